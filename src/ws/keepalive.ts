import type { WebSocket } from 'ws';

/**
 * Pings every open socket each `intervalMs` and terminates those that did not answer the previous
 * ping: dead peers (a vanished NAT mapping, a crashed client) are cut within two intervals.
 * One timer for all sockets, not one per socket.
 */
export class Keepalive {
  readonly #alive = new Map<WebSocket, boolean>();
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 15_000) {
    this.#timer = setInterval(() => this.#sweep(), intervalMs);
    this.#timer.unref();
  }

  watch(ws: WebSocket): void {
    this.#alive.set(ws, true);
    ws.on('pong', () => this.#alive.set(ws, true));
    ws.once('close', () => this.#alive.delete(ws));
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #sweep(): void {
    for (const [ws, alive] of this.#alive) {
      if (!alive) {
        ws.terminate();
        this.#alive.delete(ws);
        continue;
      }
      this.#alive.set(ws, false);
      ws.ping();
    }
  }
}
