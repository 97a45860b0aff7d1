import { type DirectWriteAddon, loadAddon } from './direct-write.js';

type PassingAddon = Required<Pick<DirectWriteAddon, 'sendFds' | 'receiveFds' | 'closeFd' | 'socketPair'>>;

/** The most descriptors one record carries (the addon's MAX_FDS_PER_RECORD). */
export const MAX_SOCKETS_PER_RECORD = 250;

/**
 * Passing many sockets to a media worker at once (native/direct_write.c): a SOCK_SEQPACKET Unix
 * socket pair per worker, one SCM_RIGHTS record per batch. Node's IPC passes one handle per message
 * and waits for the child's acknowledgement before sending anything else, i.e. one socket per turn
 * of the worker's event loop: ~100 a second from a worker that is mixing, so a storm of thousands
 * of listeners waited tens of seconds for their handshake (bench/storm.mjs). Each record goes with
 * one ordinary IPC message naming its sockets, in the same order on both channels. Null where the
 * addon is not built (or predates this): MediaPool then passes handles the Node way.
 */
export class SocketPassing {
  readonly #addon: PassingAddon;

  private constructor(addon: PassingAddon) {
    this.#addon = addon;
  }

  static load(): SocketPassing | null {
    const addon = loadAddon();
    if (addon instanceof Error) return null;
    const { socketPair, sendFds, receiveFds, closeFd } = addon;
    if (!socketPair || !sendFds || !receiveFds || !closeFd) return null;
    return new SocketPassing({ socketPair, sendFds, receiveFds, closeFd });
  }

  /** A new pair: [this process's end, the worker's end] (close-on-exec), or an errno. */
  pair(): [number, number] | number {
    const out = new Int32Array(2);
    const rc = this.#addon.socketPair(out);
    return rc < 0 ? -rc : [out[0], out[1]];
  }

  /** Sends `fds` (at most MAX_SOCKETS_PER_RECORD) as one record; 0 or an errno. */
  send(channel: number, fds: readonly number[]): number {
    const rc = this.#addon.sendFds(channel, Int32Array.from(fds), fds.length);
    return rc < 0 ? -rc : 0;
  }

  /** The descriptors of the next record, or an errno. */
  receive(channel: number): number[] | number {
    const out = new Int32Array(MAX_SOCKETS_PER_RECORD);
    const n = this.#addon.receiveFds(channel, out);
    return n < 0 ? -n : [...out.subarray(0, n)];
  }

  close(fd: number): void {
    this.#addon.closeFd(fd);
  }
}
