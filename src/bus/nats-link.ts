import { hostname } from 'node:os';
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';
import type { Unsubscribe } from './bus.js';

const PING_TIMEOUT_MS = 1000;
const DRAIN_TIMEOUT_MS = 2000;

interface SharedSubscription {
  readonly sub: Subscription;
  refs: number;
}

/**
 * One node's connection to NATS, and what keeping it up involves: connecting (failing fast, with the
 * servers named), reconnecting forever with backoff and jitter, knowing whether it is up now,
 * telling listeners when it came back, sharing one NATS subscription per subject between local
 * subscribers, and draining on close. What travels over it is NatsBus's business.
 */
export class NatsLink {
  readonly nc: NatsConnection;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #subs = new Map<string, SharedSubscription>();
  readonly #reconnectListeners = new Set<() => void>();
  #connected = true;
  #closing: Promise<void> | undefined;

  private constructor(nc: NatsConnection, log: Logger, backoff: Backoff) {
    this.nc = nc;
    this.#log = log;
    this.#backoff = backoff;
    void this.#watchStatus();
  }

  static async connect(options: {
    servers: readonly string[];
    log: Logger;
    reconnectBaseMs?: number;
    reconnectMaxMs?: number;
  }): Promise<NatsLink> {
    const backoff = new Backoff(options.reconnectBaseMs ?? 250, options.reconnectMaxMs ?? 2000);
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: [...options.servers],
        name: `earshot ${hostname()} ${process.pid}`,
        noEcho: true,
        maxReconnectAttempts: -1,
        waitOnFirstConnect: false,
        reconnectDelayHandler: () => backoff.delayMs,
        timeout: 5000,
        // Detect a silently dead connection within ~10 s (the default is minutes).
        pingInterval: 5000,
        maxPingOut: 2,
      });
    } catch (err) {
      throw new Error(`cannot connect to NATS at ${options.servers.join(', ')}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new NatsLink(nc, options.log, backoff);
  }

  /** Whether the connection is up now (and not closing). */
  get connected(): boolean {
    return this.#connected && this.#closing === undefined;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Calls `listener` after each reconnect, in the order they were added. */
  onReconnect(listener: () => void): Unsubscribe {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  /** Publishes unless the client refuses (disconnected, closed); returns whether it took it. */
  tryPublish(subject: string, payload: string | Uint8Array): boolean {
    try {
      this.nc.publish(subject, payload);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Bytes handed to the socket that the kernel has not taken yet. nats.js writes without looking at
   * backpressure, so this is read from its transport (0 when that internal shape is not found).
   */
  socketBacklogBytes(): number {
    const socket = (this.nc as { protocol?: { transport?: { socket?: { writableLength?: number } } } })
      .protocol?.transport?.socket;
    return socket?.writableLength ?? 0;
  }

  /** One NATS subscription per subject, however many local subscribers; released with the last. */
  retain(subject: string, onMessage: (msg: Msg) => void): () => void {
    if (this.#closing) return () => {};
    let shared = this.#subs.get(subject);
    if (shared) {
      shared.refs++;
    } else {
      let sub: Subscription;
      try {
        sub = this.#subscribe(subject, onMessage);
      } catch (err) {
        this.#log.error({ err, subject }, 'could not subscribe on NATS');
        return () => {};
      }
      shared = { sub, refs: 1 };
      this.#subs.set(subject, shared);
    }
    const held = shared;
    return () => {
      if (--held.refs > 0) return;
      if (this.#subs.get(subject) === held) this.#subs.delete(subject);
      if (!this.#closing) held.sub.unsubscribe();
    };
  }

  /** Throws unless the server answers a round trip within PING_TIMEOUT_MS. */
  async ping(): Promise<void> {
    if (this.#closing) throw new Error('the bus is closed');
    if (!this.#connected) throw new Error('NATS is disconnected');
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.nc.flush(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('NATS did not answer in time')), PING_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drains the connection (what was published is sent, bounded in time), then closes it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#connected = false;
      let timer: NodeJS.Timeout | undefined;
      const drained = this.nc.isClosed()
        ? Promise.resolve()
        : this.nc.drain().catch((err) => this.#log.warn({ err }, 'NATS drain failed'));
      await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, DRAIN_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
      this.#subs.clear();
    })();
    return this.#closing;
  }

  #subscribe(subject: string, onMessage: (msg: Msg) => void): Subscription {
    return this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.#log.warn({ err, subject }, 'NATS subscription error');
          return;
        }
        try {
          onMessage(msg);
        } catch (e) {
          this.#log.error({ err: e, subject }, 'bus message handling failed');
        }
      },
    });
  }

  async #watchStatus(): Promise<void> {
    try {
      for await (const status of this.nc.status()) {
        switch (status.type) {
          case 'disconnect':
          case 'staleConnection':
            if (this.#connected && !this.#closing)
              this.#log.warn({ status: status.type }, 'NATS connection lost');
            this.#connected = false;
            this.#backoff.reset();
            break;
          case 'reconnecting':
            this.#backoff.next();
            break;
          case 'reconnect':
            if (this.#closing) break;
            this.#connected = true;
            this.#backoff.reset();
            this.#log.info({ server: status.server }, 'NATS connection restored');
            for (const listener of this.#reconnectListeners) {
              try {
                listener();
              } catch (err) {
                this.#log.error({ err }, 'reconnect listener failed');
              }
            }
            break;
          case 'error':
            this.#log.warn({ err: status.error }, 'NATS error');
            break;
          case 'close':
            this.#connected = false;
            break;
          default:
            break;
        }
      }
    } catch (err) {
      this.#log.warn({ err }, 'NATS status stream ended');
    }
  }
}
