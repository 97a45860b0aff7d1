import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { CloseCode } from '../domain/error-code.js';
import { closeSocket } from './close-sockets.js';

/** How long a listener closed for what it sent gets to answer the close before it is cut. */
const CUT_AFTER_MS = 2000;

/**
 * Bytes a listener may send per window before it is closed with 1008. Listeners have nothing to
 * say: a well-behaved one sends pongs, an occasional ping and its close frame (a few bytes each);
 * a client flooding pings or an endless run of empty fragments is cut here instead of costing the
 * process parse work forever.
 */
const LISTENER_INBOUND_BYTES_PER_WINDOW = 64 * 1024;
const LISTENER_INBOUND_WINDOW_MS = 10_000;
/**
 * Pings a listener may send per window. `ws` itself cuts a socket with 60 pongs it could not yet
 * write (a ping flood), silently; this closes it first, with 1008, and counts it.
 */
const LISTENER_PINGS_PER_WINDOW = 50;

/**
 * What a socket error is counted as: the `ws` protocol error code (`WS_ERR_INVALID_OPCODE`,
 * `WS_ERR_UNEXPECTED_RSV_1`, …), a few well-known system errors, else `other` — a bounded set, so it
 * can label a metric.
 */
function socketErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^WS_ERR_[A-Z0-9_]{1,40}$/.test(code) || SYSTEM_CODES.has(code)))
    return code;
  return 'other';
}
const SYSTEM_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH']);

/**
 * Every listener socket, in the main process and in media workers, goes through this: whatever
 * the client sends can only end that one socket, with the close code the WebSocket protocol
 * prescribes, and is counted.
 * - A malformed frame (oversized, RSV bits, unmasked, reserved opcode, bad UTF-8, bad close code,
 *   oversized or fragmented control frame, broken fragmentation): `ws` closes the socket with
 *   1002/1007/1009 and emits `error`, which is handled here (without a handler it would end the
 *   process).
 * - A data message (text or binary): listeners are not supposed to send any; closed with 1008.
 * - More than LISTENER_PINGS_PER_WINDOW pings, or LISTENER_INBOUND_BYTES_PER_WINDOW bytes, in a
 *   window (ping floods, endless empty fragments): closed with 1008.
 * `onViolation(reason)` is called once per socket, for counting.
 */
export function guardListenerSocket(ws: WebSocket, onViolation: (reason: string) => void): void {
  let reported = false;
  const report = (reason: string) => {
    if (reported) return;
    reported = true;
    onViolation(reason);
  };
  ws.on('error', (err) => report(socketErrorReason(err)));
  ws.on('message', () => {
    report('unexpected_message');
    closeSocket(ws, CloseCode.POLICY_VIOLATION, 'listeners do not send messages', CUT_AFTER_MS);
  });
  let windowStart = Date.now();
  let bytes = 0;
  let pings = 0;
  const tally = (addBytes: number, addPings: number): boolean => {
    const now = Date.now();
    if (now - windowStart >= LISTENER_INBOUND_WINDOW_MS) {
      windowStart = now;
      bytes = pings = 0;
    }
    bytes += addBytes;
    pings += addPings;
    if (bytes <= LISTENER_INBOUND_BYTES_PER_WINDOW && pings <= LISTENER_PINGS_PER_WINDOW) return true;
    report('inbound_flood');
    closeSocket(ws, CloseCode.POLICY_VIOLATION, 'listener sends too much', CUT_AFTER_MS);
    return false;
  };
  ws.on('ping', () => tally(0, 1));
  const socket = (ws as unknown as { _socket?: Socket })._socket;
  const onData = (chunk: Buffer) => {
    if (!tally(chunk.length, 0)) socket?.off('data', onData);
  };
  socket?.on('data', onData);
}
