import { type ChildProcess, fork } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { BusHub } from '../bus/bus-hub.js';
import type { HubBusMessage } from '../bus/ipc-bus.js';
import { AppError } from '../domain/app-error.js';
import type { Metrics } from '../observability/metrics.js';
import type { ControlPlane } from './control-plane.js';
import { DirectFd } from './direct-write.js';
import {
  type ControlRequest,
  type FromMediaWorker,
  type MediaWorkerSettings,
  SOCKET_PAIR_FD,
  type SocketGrant,
  type SocketItem,
  type ToMediaWorker,
  toWireError,
} from './media-protocol.js';
import { MAX_SOCKETS_PER_RECORD, SocketPassing } from './socket-passing.js';

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
/** `sendmsg` found the worker's socket pair full; and how long until the next try. */
const { EAGAIN } = constants.errno;
const PASS_RETRY_MS = 5;
/** How long a scrape waits for each worker's metrics. */
const METRICS_DEADLINE_MS = 500;

/** Registers what to run once a handed-over socket has ended. */
export type Ended = (fn: () => void) => void;

interface WorkerSocket {
  readonly kind: SocketGrant['kind'];
  /** Its call (a platform stream's once its start was authorized). */
  callPk: string | null;
  /** Whether it counts towards its call's placement on this worker. */
  placed: boolean;
  readonly ended: (() => void)[];
}

/** The main process's side of one media worker. */
class MediaWorker {
  readonly child: ChildProcess;
  readonly sockets = new Map<number, WorkerSocket>();
  /** Its answers to metrics requests, by request id. */
  readonly metricsWaiting = new Map<number, (metrics: unknown[]) => void>();
  /** The hub's handler of its bus messages (null: it is on NATS itself). */
  fromBus: ((message: import('../bus/ipc-bus.js').WorkerBusMessage) => void) | null = null;
  readonly link = { send: (m: HubBusMessage) => this.send({ t: 'bus', m }) };
  /** This process's end of the worker's socket pair; -1: sockets go as Node IPC handles. */
  readonly channel: number;
  /** Sockets adopted this turn of the event loop, passed together at its end. */
  readonly outbox: { item: SocketItem; socket: Socket }[] = [];
  passScheduled = false;

  constructor(child: ChildProcess, channel: number) {
    this.child = child;
    this.channel = channel;
  }

  send(message: ToMediaWorker): void {
    if (this.child.connected) this.child.send(message);
  }
}

/**
 * The media plane of a node with `EARSHOT_MEDIA_WORKERS` > 0: worker processes that each own the
 * whole real-time path — ingest sockets, jitter buffers, mixing, encoding, listener sockets — for
 * the calls placed on them, each on its own core and clock. This process (the control plane)
 * checks and admits every socket, then hands the raw socket to its call's worker (Node's IPC handle
 * passing), where `ws` completes the handshake. A call is placed on the worker with the fewest
 * sockets when its first socket arrives, and its later sockets follow it there, so a call's audio
 * never leaves its worker. A platform stream (Twilio, Telnyx, …) names its call only in its start
 * message: it goes to the least-loaded worker and places its call there if the call had no worker
 * yet; otherwise its frames reach the call's worker through the bus, as between nodes. Between workers the bus is
 * the BusHub in this process, or NATS itself when the node is in a cluster.
 */
export class MediaPool {
  readonly #workers: MediaWorker[] = [];
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #settings: MediaWorkerSettings;
  readonly #entry: string;
  readonly #hub: BusHub | null;
  readonly #bus: Bus;
  readonly #placement = new Map<string, { worker: MediaWorker; refs: number }>();
  readonly #reconnectListeners = new Set<() => void>();
  readonly #passing = SocketPassing.load();
  #control: ControlPlane | null = null;
  #stopping = false;
  #nextId = 1;

  private constructor(options: MediaPoolOptions) {
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#settings = options.settings;
    this.#entry = options.entry;
    this.#hub = options.hub;
    this.#bus = options.bus;
  }

  /** Starts `count` workers running the module at `entry` (`ws/media-worker.ts` compiled); waits until each is ready. */
  static async start(count: number, options: MediaPoolOptions): Promise<MediaPool> {
    const pool = new MediaPool(options);
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => pool.#spawn(i)));
    } catch (err) {
      await pool.stop();
      throw err;
    }
    options.metrics.setRemoteMetrics(() => pool.#collectMetrics());
    return pool;
  }

  get size(): number {
    return this.#workers.length;
  }

  /** The control plane that answers the workers' requests (set once the node's deps exist). */
  serve(control: ControlPlane): void {
    this.#control = control;
  }

  /**
   * Hands an admitted, not yet upgraded socket to its call's worker (or the least-loaded one) and
   * returns the hook that runs once it is gone. The socket is released in this process once sent.
   */
  adopt(grant: SocketGrant, request: IncomingMessage, socket: Socket, head: Buffer): Ended {
    const callPk = grant.kind === 'listener' ? grant.callPk : grant.kind === 'ingest' ? grant.call.pk : null;
    const worker = (callPk !== null ? this.#placement.get(callPk)?.worker : undefined) ?? this.#leastLoaded();
    const id = this.#nextId++;
    const entry: WorkerSocket = { kind: grant.kind, callPk, placed: false, ended: [] };
    worker.sockets.set(id, entry);
    if (callPk !== null) this.#place(worker, entry, callPk);
    const item: SocketItem = { id, grant, url: request.url ?? '/', headers: request.headers, head };
    if (worker.channel >= 0) {
      // Nothing is read here any more: the worker reads the socket from its handshake on.
      socket.pause();
      worker.outbox.push({ item, socket });
      this.#schedulePass(worker, 0);
    } else this.#sendHandle(worker, item, socket);
    return (fn) => {
      if (worker.sockets.get(id) === entry) entry.ended.push(fn);
      else fn();
    };
  }

  /**
   * Passes the worker's outbox: one record of descriptors and one message per 250 sockets. A full
   * socket pair (the worker has not taken the records before: it is busy) keeps the rest in the
   * outbox for a moment later, in order.
   */
  #pass(worker: MediaWorker): void {
    const batch = worker.outbox.splice(0);
    for (let at = 0; at < batch.length; at += MAX_SOCKETS_PER_RECORD) {
      const open: typeof batch = [];
      const fds: number[] = [];
      for (const entry of batch.slice(at, at + MAX_SOCKETS_PER_RECORD)) {
        // Gone meanwhile (the client hung up): nothing to pass.
        const fd = new DirectFd(entry.socket).get(0);
        if (fd < 0) {
          entry.socket.destroy();
          this.#closed(worker, entry.item.id);
        } else {
          open.push(entry);
          fds.push(fd);
        }
      }
      if (open.length === 0) continue;
      const errno = worker.child.connected ? this.#passing!.send(worker.channel, fds) : -1;
      if (errno === EAGAIN) {
        worker.outbox.unshift(...open, ...batch.slice(at + MAX_SOCKETS_PER_RECORD));
        this.#schedulePass(worker, PASS_RETRY_MS);
        return;
      }
      if (errno === 0) worker.send({ t: 'sockets', items: open.map(({ item }) => item) });
      else
        this.#log.warn(
          { errno, sockets: open.length },
          `could not pass ${open.length} sockets to their media worker (errno ${errno})`,
        );
      for (const { item, socket } of open) {
        // The worker holds its own descriptor now: closing this one leaves the connection open.
        socket.destroy();
        if (errno !== 0) this.#closed(worker, item.id);
      }
    }
  }

  /** Passes the outbox at the end of this turn of the event loop (or after `delayMs`), once. */
  #schedulePass(worker: MediaWorker, delayMs: number): void {
    if (worker.passScheduled) return;
    worker.passScheduled = true;
    const run = () => {
      worker.passScheduled = false;
      this.#pass(worker);
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }

  /** Passes one socket as a Node IPC handle (no addon): the worker acknowledges each before the next. */
  #sendHandle(worker: MediaWorker, item: SocketItem, socket: Socket): void {
    const message: ToMediaWorker = { t: 'socket', ...item };
    const { id } = item;
    // Node tracks sockets of a net.Server sent to a child so that server.close() can ask the child
    // about them; the worker does not answer for an http.Server's sockets, and close() would wait
    // forever. Send it as a plain socket instead, and let this process forget it.
    (socket as unknown as { server: unknown }).server = null;
    worker.child.send(message, socket, (err) => {
      socket.destroy();
      if (!err) return;
      this.#log.warn({ err }, 'could not hand a socket to its media worker');
      this.#closed(worker, id);
    });
  }

  /** Calls with any socket on a worker (the reconciler compares them with the store). */
  liveCalls(): string[] {
    return [...this.#callsOf(() => true)];
  }

  callsWithListeners(): string[] {
    return [...this.#callsOf((s) => s.kind === 'listener')];
  }

  /** Calls with ingest connected on a worker (their activity keeps them from idling out). */
  callsWithIngest(): string[] {
    return [...this.#callsOf((s) => s.kind !== 'listener')];
  }

  /**
   * Closes the call's listeners that connected with one of these token hashes, wherever they are:
   * a `revoked` event naming them goes to the workers. Returns 0 (the workers do not report back).
   */
  closeRevoked(callPk: string, tokenHashes: readonly string[]): number {
    this.#bus.publishCallEvent(callPk, { type: 'revoked', tokenHashes });
    return 0;
  }

  /** Runs `listener` when a worker's own NATS connection came back (it may have missed events). */
  onWorkerReconnect(listener: () => void): () => void {
    this.#reconnectListeners.add(listener);
    return () => this.#reconnectListeners.delete(listener);
  }

  /** Closes every worker's sockets with 1001 and waits (bounded) for the workers to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#metrics.setRemoteMetrics(null);
    await Promise.all(
      this.#workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const exited = new Promise((r) => w.child.once('exit', r));
        w.send({ t: 'shutdown' });
        const timer = setTimeout(() => w.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  *#callsOf(match: (s: WorkerSocket) => boolean): Generator<string> {
    const seen = new Set<string>();
    for (const worker of this.#workers)
      for (const s of worker.sockets.values()) {
        if (s.callPk === null || seen.has(s.callPk) || !match(s)) continue;
        seen.add(s.callPk);
        yield s.callPk;
      }
  }

  #leastLoaded(): MediaWorker {
    return this.#workers.reduce((a, b) => (b.sockets.size < a.sockets.size ? b : a));
  }

  /** Counts the socket towards its call's placement when the call is placed on its worker (or nowhere yet). */
  #place(worker: MediaWorker, entry: WorkerSocket, callPk: string): void {
    entry.callPk = callPk;
    const placed = this.#placement.get(callPk);
    if (placed && placed.worker !== worker) return;
    if (placed) placed.refs++;
    else this.#placement.set(callPk, { worker, refs: 1 });
    entry.placed = true;
  }

  #closed(worker: MediaWorker, id: number): void {
    const entry = worker.sockets.get(id);
    if (!entry) return;
    worker.sockets.delete(id);
    if (entry.placed && entry.callPk !== null) {
      const placed = this.#placement.get(entry.callPk);
      if (placed && --placed.refs === 0) this.#placement.delete(entry.callPk);
    }
    for (const fn of entry.ended.splice(0)) fn();
  }

  #spawn(index: number): Promise<void> {
    const pair = this.#passing?.pair() ?? null;
    if (typeof pair === 'number') this.#log.warn({ errno: pair }, 'no socket pair for a media worker');
    const ends = Array.isArray(pair) ? pair : null;
    const child = fork(this.#entry, [JSON.stringify(this.#settings), ends ? String(SOCKET_PAIR_FD) : ''], {
      serialization: 'advanced',
      // The worker's end of the pair becomes its descriptor SOCKET_PAIR_FD.
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', ...(ends ? [ends[1]] : [])],
    });
    if (ends) this.#passing?.close(ends[1]);
    const worker = new MediaWorker(child, ends?.[0] ?? -1);
    this.#workers[index] = worker;
    // E.g. a send on a channel that just closed: the exit handler below replaces the worker.
    child.on('error', (err) => this.#log.warn({ err, pid: child.pid }, 'media worker channel error'));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('media worker did not start')), READY_TIMEOUT_MS);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`media worker exited with ${code} at start`)));
      child.on('message', (message: FromMediaWorker) => {
        if (message.t === 'ready') {
          clearTimeout(timer);
          // Relay for it once it listens (what the hub tells a new worker must not be lost).
          if (this.#hub) worker.fromBus = this.#hub.attach(worker.link);
          resolve();
        } else this.#onMessage(worker, message);
      });
    });
    child.once('exit', (code, signal) => {
      this.#hub?.detach(worker.link);
      for (const { socket } of worker.outbox.splice(0)) socket.destroy();
      if (worker.channel >= 0) this.#passing?.close(worker.channel);
      // Its sockets died with it: they are gone (clients reconnect with the same URL).
      for (const id of [...worker.sockets.keys()]) this.#closed(worker, id);
      for (const answer of worker.metricsWaiting.values()) answer([]);
      if (this.#stopping) return;
      this.#log.error({ code, signal, pid: child.pid }, 'media worker exited; starting another');
      this.#spawn(index).catch((err) => this.#log.error({ err }, 'could not restart a media worker'));
    });
    return ready;
  }

  #onMessage(worker: MediaWorker, message: FromMediaWorker) {
    switch (message.t) {
      case 'bus':
        return worker.fromBus?.(message.m);
      case 'closed':
        return this.#closed(worker, message.id);
      case 'touch':
        return this.#control?.touchCall(message.callPk);
      case 'request':
        return void this.#answer(worker, message.id, message.request);
      case 'metrics':
        return worker.metricsWaiting.get(message.id)?.(message.metrics);
      case 'reconnected':
        for (const listener of this.#reconnectListeners) listener();
        return;
      case 'uncaught':
        return this.#metrics.uncaughtErrors.inc();
    }
  }

  async #answer(worker: MediaWorker, id: number, request: ControlRequest): Promise<void> {
    try {
      const control = this.#control;
      if (!control) throw new AppError('SERVICE_UNAVAILABLE', 'Server starting');
      let value: unknown;
      if (request.op === 'completeCall') value = await control.completeCall(request.call);
      else if (request.op === 'listenerStatus')
        value = await control.listenerStatus(request.callPk, request.tokenHash);
      else {
        const grant = await control.authorizeStream(request.address, request.start);
        const entry = worker.sockets.get(request.socketId);
        if (entry) this.#place(worker, entry, grant.call.pk);
        value = grant;
      }
      worker.send({ t: 'reply', id, value });
    } catch (err) {
      if (!(err instanceof AppError)) this.#log.error({ err, op: request.op }, 'media worker request failed');
      worker.send({ t: 'reply', id, error: toWireError(err) });
    }
  }

  /** Every worker's metrics (prom-client JSON), for one scrape; a worker that does not answer in time is left out. */
  #collectMetrics(): Promise<unknown[][]> {
    return Promise.all(
      this.#workers.map(
        (worker) =>
          new Promise<unknown[]>((resolve) => {
            if (!worker.child.connected) return resolve([]);
            const id = this.#nextId++;
            const done = (metrics: unknown[]) => {
              clearTimeout(timer);
              worker.metricsWaiting.delete(id);
              resolve(metrics);
            };
            const timer = setTimeout(() => done([]), METRICS_DEADLINE_MS);
            worker.metricsWaiting.set(id, done);
            worker.send({ t: 'metrics?', id });
          }),
      ),
    );
  }
}

export interface MediaPoolOptions {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly settings: MediaWorkerSettings;
  /** The worker module (compiled). */
  readonly entry: string;
  /** The node's bus (events to the workers go there). */
  readonly bus: Bus;
  /** The bus between workers when the node has no NATS; null: workers are on NATS themselves. */
  readonly hub: BusHub | null;
}
