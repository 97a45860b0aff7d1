/**
 * `earshot/client`: listen to a live call from Node (`listen`), and push a participant's audio into
 * one (`ingest`). Server-independent: it speaks the public API's sockets (SPEC §3, §4.1) only.
 */

export { type Ingesting, type IngestOptions, IngestRefusedError, ingest } from './ingest.js';
export {
  type ListenEnd,
  type ListenEvent,
  type ListenFrame,
  type ListenItem,
  type Listening,
  type ListenOptions,
  ListenRefusedError,
  type ListenSource,
  listen,
} from './listen.js';
