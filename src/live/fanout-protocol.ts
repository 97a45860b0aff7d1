import type { IncomingHttpHeaders } from 'node:http';
import type { ListenerFormat } from './listener-options.js';

/**
 * Messages between the main process and its fan-out workers (`EARSHOT_FANOUT_WORKERS`), over the
 * Node IPC channel with `serialization: 'advanced'` (Buffers travel as bytes, not JSON).
 * Listener sockets themselves travel as handles with the `listener` message.
 */
export type ToWorker =
  /** A listener socket, checked and not yet upgraded: the worker completes the WebSocket handshake. */
  | {
      readonly t: 'listener';
      readonly id: number;
      /** Listeners of one call and format share a group: one message per group per tick. */
      readonly group: string;
      readonly format: ListenerFormat;
      readonly url: string;
      readonly headers: IncomingHttpHeaders;
      /** Bytes the HTTP server read past the request head (usually none). */
      readonly head: Uint8Array;
    }
  /** One mixer tick: the pre-framed message of every group that has listeners on this worker. */
  | { readonly t: 'frames'; readonly seq: number; readonly items: readonly [string, Uint8Array][] }
  | { readonly t: 'event'; readonly id: number; readonly event: Readonly<Record<string, unknown>> }
  | { readonly t: 'close'; readonly id: number; readonly code: number; readonly reason: string }
  /** Close every listener with 1001, wait briefly for the close handshakes, exit. */
  | { readonly t: 'shutdown' };

export type FromWorker =
  | { readonly t: 'ready' }
  /** The listener is gone: closed by either side, cut by the keepalive, or its handshake failed. */
  | { readonly t: 'closed'; readonly id: number }
  /** Counters since the previous report. */
  | { readonly t: 'stats'; readonly sent: number; readonly dropped: number; readonly evicted: number };
