import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { CloseCode } from '../domain/error-code.js';
import {
  DirectFd,
  type DirectWriteBatch,
  type DirectWriteTarget,
  LISTENER_SEND_BUFFER_BYTES,
  limitSendBuffer,
  UnreadProbe,
} from './direct-write.js';
import { type ListenerFormat, messagePayloadBytes } from './listener-options.js';
import { ReadProgress } from './read-progress.js';
import { frameHeaderBytes } from './ws-frame.js';

/**
 * How long a closing listener may take to answer the close handshake before its socket is cut.
 * Generous on purpose: a listener evicted for being slow reads its backlog first, then the close.
 */
const CLOSE_GRACE_MS = 5000;

export interface ListenerPolicy {
  /** Socket backlog (bytes not yet handed to the kernel) beyond which messages are dropped. */
  readonly maxBacklogBytes: number;
  /** Continuous backlog after which the listener is closed with 1008 "listener too slow". */
  readonly evictAfterMs: number;
}

export type SendResult = 'sent' | 'dropped' | 'evicted' | 'closed';

/** Listener messages written, dropped (backlog) and listeners evicted, over some span. */
export interface SendCounts {
  sent: number;
  dropped: number;
  evicted: number;
}

/**
 * Sends `frame` to every listener of `listeners`, counting the outcomes into `counts`; with a
 * `batch`, the listeners whose sockets can take it directly get it in one native call at the end.
 */
export function sendToAll(
  listeners: Iterable<ListenerSink>,
  frame: Buffer,
  nowMs: number,
  counts: SendCounts,
  batch: DirectWriteBatch | null = null,
): void {
  for (const listener of listeners) {
    const r = listener.send(frame, nowMs, batch);
    if (r === 'sent') counts.sent++;
    else if (r === 'dropped') counts.dropped++;
    else if (r === 'evicted') counts.evicted++;
  }
  batch?.flush(frame);
}

/** Listeners only ever send control frames; anything bigger than this closes them (1009). */
export const LISTENER_MAX_PAYLOAD_BYTES = 4096;

/** Backlog a listener may build before its messages are dropped (SPEC §3: ~200 ms). */
const MAX_BACKLOG_MS = 200;
/** Continuous backlog after which it is closed with 1008 (SPEC §3: 5 s). */
const EVICT_AFTER_MS = 5000;
/**
 * How long a listener must stay under the backlog threshold to count as caught up (its eviction
 * clock starts over). A client reading at half the stream's rate dips under the threshold each time
 * it reads, and for a second or two once its frames are dropped (it catches up on what it had);
 * without this it would never be "continuously" behind, only always.
 */
const CAUGHT_UP_AFTER_MS = 3000;
/** How often a listener asks the kernel how much its client left unread (one getsockopt). */
const PROBE_EVERY_MS = 200;
/**
 * Backlog a client that answers pings is judged to have when a ping has waited this long (beyond
 * the round trip) for its pong: `ReadProgress`. Above SPEC §3's ~200 ms, so that a server whose
 * event loop is late to read a pong (by up to this much) does not drop frames of a healthy client.
 */
const MAX_READ_LAG_MS = 500;

/** SPEC §3's slow-listener rule for a format: drop past ~200 ms of backlog, close after 5 s of it. */
export function listenerPolicy(format: ListenerFormat): ListenerPolicy {
  const messageBytes = frameHeaderBytes(messagePayloadBytes(format)) + messagePayloadBytes(format);
  return {
    maxBacklogBytes: messageBytes * Math.ceil(MAX_BACKLOG_MS / format.frameMs),
    evictAfterMs: EVICT_AFTER_MS,
  };
}

/** What a call's room sees of a listener: the `Listener` of a socket in this process (or a test's stand-in). */
export interface ListenerSink {
  readonly format: ListenerFormat;
  /** Hash of the listen token it connected with: a revocation the node did not hear finds it by it. */
  readonly tokenHash: string;
  readonly closed: boolean;
  /**
   * Writes (or queues) one pre-framed message; the same Buffer goes to every listener of a format.
   * A listener may instead add itself to `batch`, whose owner writes the message before it returns.
   */
  send(frame: Buffer, nowMs: number, batch?: DirectWriteBatch | null): SendResult;
  sendEvent(event: Readonly<Record<string, unknown>>): void;
  close(code: number, reason: string): void;
  /** Runs `fn` once, as soon as the listener starts closing (by us or by the peer); several may be added. */
  onClose(fn: () => void): void;
  /** Holds the messages sent from now on back, to be written together by `uncork`. */
  cork(): void;
  /** Writes what `cork` held back, through `batch` where the socket can take it directly. */
  uncork(batch?: DirectWriteBatch | null): void;
}

/**
 * One listener socket. Audio messages arrive pre-framed (the same Buffer for every listener of a
 * format) and are written straight to the TCP socket under `ws`, after a backlog check: a listener
 * that cannot keep up loses messages (only its own) instead of growing memory or slowing others.
 */
export class Listener implements ListenerSink, DirectWriteTarget {
  readonly ws: WebSocket;
  readonly format: ListenerFormat;
  readonly tokenHash: string;
  readonly #socket: Socket;
  readonly #fd: DirectFd;
  readonly #policy: ListenerPolicy;
  #backlogSinceMs = 0;
  /** Since when it has been under the threshold while its eviction clock runs (0: not). */
  #clearSinceMs = 0;
  #droppedMs = 0;
  #closed = false;
  /** Run once, when it starts closing; null once they have run. */
  #onClose: (() => void)[] | null = [];
  /** Between `cork()` and `uncork()`: messages are held in `#held`, on purpose, so not backlog. */
  #corked = false;
  readonly #held: Buffer[] = [];
  /** What the client left unread in the kernel (its receive buffer, our unsent bytes), as last probed. */
  readonly #probe = new UnreadProbe();
  #unreadBytes = 0;
  #probedAtMs = 0;
  /** What the client has read, from its pongs to pings written in the stream. */
  readonly #progress = new ReadProgress();
  #readLagMs = 0;

  constructor(ws: WebSocket, format: ListenerFormat, policy: ListenerPolicy, tokenHash = '') {
    this.ws = ws;
    this.format = format;
    this.tokenHash = tokenHash;
    this.#policy = policy;
    // ws keeps its socket private; writing whole frames to it is safe because ws itself writes
    // every frame synchronously (no compression, no queue), so frames never interleave.
    this.#socket = (ws as unknown as { _socket: Socket })._socket;
    this.#fd = new DirectFd(this.#socket);
    // What a stalled client leaves unread must reach user space (the backlog checked in `send`)
    // within seconds, not hide in an autotuned kernel buffer.
    limitSendBuffer(this.#fd.get(0), LISTENER_SEND_BUFFER_BYTES);
    this.ws.on('pong', (data: Buffer) => this.#progress.pong(data));
    this.ws.once('close', () => this.#fireClose());
  }

  /**
   * Runs `fn` once, as soon as the listener starts closing (by us or by the peer), so that it stops
   * counting as a listener at once rather than when the close handshake ends. Several may be added.
   */
  onClose(fn: () => void): void {
    if (this.#onClose === null) fn();
    else this.#onClose.push(fn);
  }

  #fireClose(): void {
    const fns = this.#onClose;
    this.#onClose = null;
    for (const fn of fns ?? []) fn();
  }

  get closed(): boolean {
    return this.#closed || this.ws.readyState !== this.ws.OPEN;
  }

  /** Writes one pre-framed message unless the socket is backlogged (or holds it, when corked). */
  send(frame: Buffer, nowMs: number, batch: DirectWriteBatch | null = null): SendResult {
    if (this.closed) return 'closed';
    if (nowMs - this.#probedAtMs >= PROBE_EVERY_MS) {
      this.#probedAtMs = nowMs;
      this.#unreadBytes = this.#probe.measure(this.#fd.get(0));
      // In stream order: held messages (corked) would go out after it, so not while corked.
      const ping = this.#corked ? null : this.#progress.ping(nowMs);
      if (ping !== null) this.ws.ping(ping);
      this.#readLagMs = this.#progress.lagMs(nowMs);
    }
    let queued = this.#socket.writableLength;
    // Backlog: what waits in this process plus what the client has not read out of the kernel, or
    // a ping it has not answered for too long.
    const behind =
      queued + this.#unreadBytes > this.#policy.maxBacklogBytes || this.#readLagMs > MAX_READ_LAG_MS;
    if (behind) {
      if (this.#backlogSinceMs === 0) this.#backlogSinceMs = nowMs;
      this.#clearSinceMs = 0;
    } else if (this.#backlogSinceMs !== 0) {
      if (this.#clearSinceMs === 0) this.#clearSinceMs = nowMs;
      if (nowMs - this.#clearSinceMs >= CAUGHT_UP_AFTER_MS) this.#backlogSinceMs = this.#clearSinceMs = 0;
    }
    // Continuously behind (dips shorter than CAUGHT_UP_AFTER_MS included) for evictAfterMs: closed,
    // even in a dip.
    if (this.#backlogSinceMs !== 0 && nowMs - this.#backlogSinceMs >= this.#policy.evictAfterMs) {
      this.close(CloseCode.POLICY_VIOLATION, 'listener too slow');
      return 'evicted';
    }
    if (behind) {
      this.#droppedMs += this.format.frameMs;
      return 'dropped';
    }
    if (this.#droppedMs > 0) {
      const ms = this.#droppedMs;
      this.#droppedMs = 0;
      this.sendEvent({ type: 'gap', ms });
      queued = this.#socket.writableLength;
    }
    if (this.#corked) {
      this.#held.push(frame);
      return 'sent';
    }
    // Anything queued: through the socket, behind what is queued.
    const fd = batch !== null ? this.#fd.get(queued) : -1;
    if (fd >= 0) batch!.add(fd, this);
    else this.#socket.write(frame);
    return 'sent';
  }

  /** A direct write the kernel did not take whole: queue the rest behind it (an error surfaces there). */
  finishWrite(frame: Buffer, written: number): void {
    this.#socket.write(written > 0 ? frame.subarray(written) : frame);
  }

  /**
   * Holds this listener's messages back until `uncork()`, which writes them in one go: used while
   * the clock catches up several ticks at once, or coalesces ticks under load, where one system
   * call per message per listener is the dominant cost. Held messages do not count as backlog.
   */
  cork(): void {
    if (this.#corked || this.closed) return;
    this.#corked = true;
  }

  /**
   * Writes the held messages: through `batch` (one `send()` of them all, the buffer shared with
   * every listener that held the same ticks) when the socket can take them directly, else in one
   * `writev`. A listener that has closed meanwhile gets nothing more: its close frame is out.
   */
  uncork(batch: DirectWriteBatch | null = null): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#writeHeld(batch);
  }

  #writeHeld(batch: DirectWriteBatch | null): void {
    const held = this.#held;
    if (held.length === 0) return;
    if (!this.closed) {
      const fd = batch !== null ? this.#fd.get(this.#socket.writableLength) : -1;
      if (fd >= 0) batch!.addFrames(fd, this, held);
      else {
        // Node writes one held chunk with write(2), several with one writev(2).
        this.#socket.cork();
        for (const frame of held) this.#socket.write(frame);
        this.#socket.uncork();
      }
    }
    held.length = 0;
  }

  /** Sends a JSON text frame to listeners that asked for events (`events=1`); others get nothing. */
  sendEvent(event: Readonly<Record<string, unknown>>): void {
    if (!this.format.events || this.closed) return;
    // Held audio went out before the event happened: keep that order on the wire.
    this.#writeHeld(null);
    this.ws.send(JSON.stringify(event));
  }

  /** Closes with a code and reason; a peer that does not answer the close is cut after CLOSE_GRACE_MS. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.uncork();
    this.#closed = true;
    this.ws.close(code, reason);
    this.#fireClose();
    const cut = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    cut.unref();
    this.ws.once('close', () => clearTimeout(cut));
  }
}
