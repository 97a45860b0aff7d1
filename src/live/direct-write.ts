import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { DirectWrites } from './modes.js';

/** The native addon (native/direct_write.c, built by `npm ci` through node-gyp). */
export interface DirectWriteAddon {
  writeAll(fds: Int32Array, count: number, message: Uint8Array, results: Int32Array): number;
  /** SO_SNDBUF; 0 or -errno. Missing from addons built before it existed. */
  setSendBuffer?(fd: number, bytes: number): number;
  /** out[0] = bytes not yet sent, out[1] = the peer's advertised window; 0 or -errno. */
  tcpUnread?(fd: number, out: Int32Array): number;
  /** Descriptor passing between processes (live/socket-passing.ts); each 0/count or -errno. */
  socketPair?(out: Int32Array): number;
  sendFds?(fd: number, fds: Int32Array, count: number): number;
  receiveFds?(fd: number, out: Int32Array): number;
  closeFd?(fd: number): number;
}

/** Where node-gyp puts the addon, from src/live or dist/live alike. */
const ADDON_PATH = '../../build/Release/earshot_direct_write.node';

/** The addon, or the reason it cannot be loaded (`require` caches it). */
export function loadAddon(path = ADDON_PATH): DirectWriteAddon | Error {
  try {
    return createRequire(import.meta.url)(path) as DirectWriteAddon;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * The kernel send buffer of a listener socket (Linux doubles it: 32 KiB, about 1 s of the default
 * 16 kHz stream). Left alone, Linux autotunes it up to `net.ipv4.tcp_wmem` (4 MiB), and a client
 * that stops reading would hide minutes of audio there before any backlog showed in user space,
 * where the 200 ms drop and the 5 s eviction of SPEC §3 are decided.
 */
export const LISTENER_SEND_BUFFER_BYTES = 16 * 1024;

let sendBufferAddon: DirectWriteAddon | Error | undefined;

/**
 * Bounds what the kernel may hold unsent for the socket of `fd` (SO_SNDBUF through the addon: Node
 * has no API for it on TCP). Returns false when that cannot be done (no addon, no descriptor): the
 * kernel then autotunes as it would.
 */
export function limitSendBuffer(fd: number, bytes: number, addonPath = ADDON_PATH): boolean {
  if (fd < 0) return false;
  sendBufferAddon ??= loadAddon(addonPath);
  if (sendBufferAddon instanceof Error || typeof sendBufferAddon.setSendBuffer !== 'function') return false;
  return sendBufferAddon.setSendBuffer(fd, bytes) === 0;
}

/**
 * Window shrinkage not counted as unread: the larger of a few KB and this share of the largest
 * window seen. A receiver does not announce every read: Linux reopens its window only in large
 * steps (it may look ~40 % shut for a second while its application reads every 100 ms, measured
 * on loopback), so only a window shut past that says the client stopped reading.
 */
const WINDOW_SLACK_BYTES = 8 * 1024;
const WINDOW_SLACK_SHARE = 0.6;

/**
 * Bytes written to a TCP socket that the peer's application has not read yet, as far as this
 * kernel can tell — beyond those merely in flight, which depend on the network's round trip, not
 * on the client. A client that stops reading first fills its own receive buffer (~100 KB on
 * Linux, seconds of audio) while acknowledging everything, so nothing backs up on this side; but
 * the receive window it advertises shrinks by every byte left unread. This probe remembers the
 * largest window the peer advertised and counts the shrinkage past the slack (above) plus what
 * the kernel has not sent yet. 0 when the addon or the kernel cannot tell (Linux 5.4+ can).
 */
export class UnreadProbe {
  readonly #out = new Int32Array(2);
  #maxWindow = 0;

  measure(fd: number, addonPath = ADDON_PATH): number {
    if (fd < 0) return 0;
    sendBufferAddon ??= loadAddon(addonPath);
    if (sendBufferAddon instanceof Error || typeof sendBufferAddon.tcpUnread !== 'function') return 0;
    if (sendBufferAddon.tcpUnread(fd, this.#out) !== 0) return 0;
    const [notSent, window] = this.#out;
    if (window > this.#maxWindow) this.#maxWindow = window;
    const slack = Math.max(WINDOW_SLACK_BYTES, this.#maxWindow * WINDOW_SLACK_SHARE);
    return notSent + Math.max(0, this.#maxWindow - window - slack);
  }
}

/** Someone whose message went out through a batch, told what the kernel did not take. */
export interface DirectWriteTarget {
  /** Queues the part of `message` the kernel did not take (`written` bytes, or -errno: none). */
  finishWrite(message: Buffer, written: number): void;
}

/**
 * The file descriptor of one socket for direct writes. `get` gives it only when a message may be
 * written to it directly — a plain TCP socket, open, with nothing queued in user space (so a direct
 * write cannot overtake earlier bytes) — else -1. The descriptor is cached per handle object:
 * net.Socket drops its handle when it closes the descriptor, so a number the kernel has since
 * reused for another socket is never returned, and the handle's native `fd` accessor is read once
 * per connection rather than once per message.
 */
export class DirectFd {
  readonly #socket: Socket;
  #handle: object | null = null;
  #fd = -1;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get(queuedBytes: number): number {
    if (queuedBytes !== 0 || this.#socket.destroyed) return -1;
    const handle = (this.#socket as unknown as { _handle: { fd?: number } | null })._handle;
    if (handle !== this.#handle || this.#fd < 0) {
      this.#handle = handle;
      this.#fd = handle && typeof handle.fd === 'number' ? handle.fd : -1;
    }
    return this.#fd;
  }
}

/**
 * Collects the sockets that get one message and writes it to all of them in one call into the
 * addon: one `send()` per socket in C, instead of one trip through Node's stream machinery per
 * listener (docs/architecture.md, "Direct writes"). Used within one synchronous loop, in one of two
 * ways, never mixed: `add` every target, then `flush` with the message; or, for messages held back
 * over several ticks, `addFrames` per target and `flushFrames` at the end. Nothing else may write
 * to those sockets in between.
 */
export class DirectWriteBatch {
  readonly #addon: DirectWriteAddon;
  #fds = new Int32Array(64);
  #results = new Int32Array(64);
  readonly #targets: DirectWriteTarget[] = [];
  #count = 0;
  /** The frames every target added since the last flush gets (`addFrames`), in order. */
  readonly #run: Buffer[] = [];

  private constructor(addon: DirectWriteAddon) {
    this.#addon = addon;
  }

  /**
   * A batch per `mode`, or null when writes go through the sockets (`off`, or `auto` without the
   * addon: `onUnavailable` is told why). Throws for `on` without the addon.
   */
  static create(
    mode: DirectWrites,
    onUnavailable?: (reason: Error) => void,
    addonPath = ADDON_PATH,
  ): DirectWriteBatch | null {
    if (mode === 'off') return null;
    const loaded = loadAddon(addonPath);
    if (!(loaded instanceof Error)) return new DirectWriteBatch(loaded);
    if (mode === 'on')
      throw new Error(`EARSHOT_DIRECT_WRITES=on but the native addon is not built: ${loaded.message}`);
    onUnavailable?.(loaded);
    return null;
  }

  add(fd: number, target: DirectWriteTarget): void {
    const i = this.#count++;
    if (i === this.#fds.length) {
      const fds = new Int32Array(i * 2);
      fds.set(this.#fds);
      this.#fds = fds;
      this.#results = new Int32Array(i * 2);
    }
    this.#fds[i] = fd;
    this.#targets[i] = target;
  }

  /**
   * Adds a target that gets `frames`, concatenated. Consecutive targets with the same frames (the
   * listeners of one output group that held the same ticks) share one buffer and one call into the
   * addon; a target with other frames first writes out the run before it.
   */
  addFrames(fd: number, target: DirectWriteTarget, frames: readonly Buffer[]): void {
    const run = this.#run;
    if (this.#count > 0 && !sameBuffers(run, frames)) this.flushFrames();
    if (this.#count === 0) {
      run.length = 0;
      for (const frame of frames) run.push(frame);
    }
    this.add(fd, target);
  }

  /** Writes out the targets added by `addFrames` since the last flush. */
  flushFrames(): void {
    const run = this.#run;
    if (this.#count > 0) this.flush(run.length === 1 ? run[0] : Buffer.concat(run));
    run.length = 0;
  }

  /** Writes `message` to every socket added since the last flush. */
  flush(message: Buffer): void {
    const count = this.#count;
    if (count === 0) return;
    this.#count = 0;
    const whole = this.#addon.writeAll(this.#fds, count, message, this.#results);
    if (whole !== count) {
      const results = this.#results;
      for (let i = 0; i < count; i++) {
        if (results[i] !== message.length) this.#targets[i].finishWrite(message, results[i]);
      }
    }
    // Drop the references: a closed listener must not stay reachable from here.
    this.#targets.length = 0;
  }
}

function sameBuffers(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
