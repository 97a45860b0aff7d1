import type { IncomingHttpHeaders } from 'node:http';
import type { ListenerFormat } from './listener-options.js';
import { DIRECT_WRITES, type DirectWrites, WRITE_COALESCING, type WriteCoalescing } from './modes.js';

/** The main process's settings a worker applies to its listeners (its argv[2], as JSON). */
export interface WorkerSettings {
  readonly writeCoalescing: WriteCoalescing;
  readonly directWrites: DirectWrites;
}

/** Reads a worker's settings back; throws (the worker then fails to start) on anything else. */
export function parseWorkerSettings(json: string | undefined): WorkerSettings {
  const value = JSON.parse(json ?? 'null') as Partial<Record<keyof WorkerSettings, unknown>> | null;
  const writeCoalescing = WRITE_COALESCING.find((m) => m === value?.writeCoalescing);
  const directWrites = DIRECT_WRITES.find((m) => m === value?.directWrites);
  if (!writeCoalescing || !directWrites) throw new Error(`fan-out worker: bad settings ${json}`);
  return { writeCoalescing, directWrites };
}

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
      readonly group: number;
      readonly format: ListenerFormat;
      readonly url: string;
      readonly headers: IncomingHttpHeaders;
      /** Bytes the HTTP server read past the request head (usually none). */
      readonly head: Uint8Array;
    }
  /**
   * One mixer tick: the pre-framed message of every group that has listeners on this worker, packed
   * into one buffer (see `packFrames`) so that the IPC serializer copies bytes instead of walking
   * hundreds of objects.
   */
  | {
      readonly t: 'frames';
      readonly seq: number;
      readonly batch: Uint8Array;
      /** Ticks dropped for this worker since its previous batch (it was behind): a gap for its listeners. */
      readonly skipped: number;
    }
  | { readonly t: 'event'; readonly id: number; readonly event: Readonly<Record<string, unknown>> }
  | { readonly t: 'close'; readonly id: number; readonly code: number; readonly reason: string }
  /** Close every listener with 1001, wait briefly for the close handshakes, exit. */
  | { readonly t: 'shutdown' };

export type FromWorker =
  | { readonly t: 'ready' }
  /** A `frames` batch has been written: the main process bounds the batches in flight. */
  | { readonly t: 'ack'; readonly seq: number }
  /** The listener is gone: closed by either side, cut by the keepalive, or its handshake failed. */
  | { readonly t: 'closed'; readonly id: number }
  /** A listener socket closed for a protocol violation (counted in the main process's metrics). */
  | { readonly t: 'socketError'; readonly reason: string }
  /** An error reached the worker's process-level guard (logged there; the worker keeps serving). */
  | { readonly t: 'uncaught' }
  /** Counters since the previous report. */
  | { readonly t: 'stats'; readonly sent: number; readonly dropped: number; readonly evicted: number };

const ENTRY_HEADER_BYTES = 8;

/** Packs `[group, frame]` entries as repeated `u32 group, u32 length, bytes` (little-endian). */
export function packFrames(entries: ReadonlyMap<number, Buffer>): Buffer {
  let size = 0;
  for (const frame of entries.values()) size += ENTRY_HEADER_BYTES + frame.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [group, frame] of entries) {
    out.writeUInt32LE(group, at);
    out.writeUInt32LE(frame.length, at + 4);
    frame.copy(out, at + ENTRY_HEADER_BYTES);
    at += ENTRY_HEADER_BYTES + frame.length;
  }
  return out;
}

/** Calls `fn(group, frame)` for each entry of a packed batch; frames are views into `batch`. */
export function unpackFrames(batch: Uint8Array, fn: (group: number, frame: Buffer) => void): void {
  const bytes = Buffer.from(batch.buffer, batch.byteOffset, batch.byteLength);
  for (let at = 0; at + ENTRY_HEADER_BYTES <= bytes.length; ) {
    const group = bytes.readUInt32LE(at);
    const length = bytes.readUInt32LE(at + 4);
    const start = at + ENTRY_HEADER_BYTES;
    fn(group, bytes.subarray(start, start + length));
    at = start + length;
  }
}
