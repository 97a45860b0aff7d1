import { parseEventMessage } from './json-field.js';

/**
 * Longest accepted text message on generic ingest. The only meaningful one is `{"event":"stop"}`;
 * the headroom leaves room for future fields without inviting megabytes of JSON.
 */
export const MAX_GENERIC_CONTROL_MESSAGE_CHARS = 4096;

/** Longest unknown event name reported back in `ignored` (for logs; never trusted). */
const MAX_REPORTED_EVENT_CHARS = 32;

/**
 * A text message of generic ingest: `stop` ends the connection's participants (not the call);
 * anything else is `ignored`, so that newer clients can send events this server does not know.
 */
export type GenericControlMessage =
  | { readonly type: 'stop' }
  | { readonly type: 'ignored' /** The unknown event name, cut to 32 characters. */; readonly event: string };

const STOP: GenericControlMessage = Object.freeze({ type: 'stop' });

/**
 * Parses one text message of generic ingest: a JSON object with a string `event`.
 *
 * @throws AppError `MESSAGE_TOO_BIG` above {@link MAX_GENERIC_CONTROL_MESSAGE_CHARS};
 *   `INVALID_PAYLOAD` for bad JSON, a non-object, or a missing/non-string `event`.
 */
export function parseGenericControlMessage(text: string): GenericControlMessage {
  const { event } = parseEventMessage(text, MAX_GENERIC_CONTROL_MESSAGE_CHARS);
  if (event === 'stop') return STOP;
  return Object.freeze({ type: 'ignored', event: event.slice(0, MAX_REPORTED_EVENT_CHARS) });
}
