import { fork } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import { type FromWorker, packFrames, type ToWorker, type WorkerSettings } from './fanout-protocol.js';
import { RemoteListener, WorkerHandle } from './fanout-worker-handle.js';
import type { ListenerSink } from './listener.js';
import { formatKey, type ListenerFormat } from './listener-options.js';

const READY_TIMEOUT_MS = 10_000;
/**
 * Batches a worker may have unwritten before the next ones are dropped for it (10 ticks = 200 ms,
 * the slow-listener threshold): a worker that cannot keep up loses audio, never grows the IPC
 * queue — and memory, and latency — without bound.
 */
const MAX_BATCHES_IN_FLIGHT = 10;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Fan-out worker processes (`EARSHOT_FANOUT_WORKERS`): they own listener sockets and write the
 * messages this process mixes, so that writing to listeners — one system call per listener per
 * message, most of a busy node's CPU — runs on other cores than ingest and mixing. A listener is
 * checked here, then its raw socket is handed to the worker with the fewest listeners (Node's IPC
 * handle passing); the worker completes the WebSocket handshake. Each tick, every worker gets one
 * IPC message holding the framed message of each of its groups (call × format), written to all of
 * that group's listeners there.
 */
export class FanoutPool {
  readonly #workers: WorkerHandle[] = [];
  readonly #log: Logger;
  readonly #metrics: Metrics;
  #stopping = false;
  #nextId = 1;
  #nextGroup = 1;
  #seq = 0;
  readonly #settings: WorkerSettings;
  readonly #entry: string;

  private constructor(log: Logger, metrics: Metrics, settings: WorkerSettings, entry: string) {
    this.#log = log;
    this.#metrics = metrics;
    this.#settings = settings;
    this.#entry = entry;
  }

  /**
   * Starts `count` workers, each running the module at `entry` (the fan-out worker process,
   * `ws/fanout-worker.ts` compiled), and waits until each is ready.
   */
  static async start(
    count: number,
    log: Logger,
    metrics: Metrics,
    settings: WorkerSettings,
    entry: string,
  ): Promise<FanoutPool> {
    const pool = new FanoutPool(log, metrics, settings, entry);
    try {
      await Promise.all(Array.from({ length: count }, (_, i) => pool.#spawn(i)));
    } catch (err) {
      await pool.stop();
      throw err;
    }
    return pool;
  }

  /**
   * Hands a checked, not yet upgraded listener socket to a worker and returns its stand-in for the
   * call's room. The socket is closed in this process once sent.
   */
  adopt(
    request: IncomingMessage,
    socket: Socket,
    head: Buffer,
    listener: { callPk: string; format: ListenerFormat; tokenHash: string },
  ): ListenerSink {
    const { callPk, format, tokenHash } = listener;
    const worker = this.#workers.reduce((a, b) => (b.listeners.size < a.listeners.size ? b : a));
    const id = this.#nextId++;
    const groupKey = `${callPk}|${formatKey(format)}`;
    const group = worker.join(groupKey, () => this.#nextGroup++);
    const remote = new RemoteListener(worker, id, group, groupKey, format, tokenHash);
    worker.listeners.set(id, remote);
    const message: ToWorker = {
      t: 'listener',
      id,
      group,
      format,
      url: request.url ?? '/',
      headers: request.headers,
      head,
    };
    // Node tracks sockets of a net.Server sent to a child so that server.close() can ask the child
    // about them; the worker does not answer for an http.Server's sockets, and close() would wait
    // forever. Send it as a plain socket instead, and let this process forget it (destroy() with
    // the handle gone only settles the server's connection count).
    (socket as unknown as { server: unknown }).server = null;
    worker.child.send(message, socket, (err) => {
      socket.destroy();
      if (!err) return;
      this.#log.warn({ err }, 'could not hand a listener to its fan-out worker');
      worker.closed(id);
    });
    return remote;
  }

  /** Sends each worker this tick's messages (called once per mixer tick, after every room). */
  flush(): void {
    const seq = this.#seq++;
    for (const worker of this.#workers) {
      if (worker.staged.size === 0) continue;
      if (worker.inFlight >= MAX_BATCHES_IN_FLIGHT) {
        const dropped = worker.listenersIn(worker.staged);
        if (dropped > 0) this.#metrics.framesDropped.inc({ reason: 'fanout_backlog' }, dropped);
        worker.skipped++;
      } else if (worker.child.connected) {
        const batch = packFrames(worker.staged);
        worker.child.send({ t: 'frames', seq, batch, skipped: worker.skipped } satisfies ToWorker);
        worker.skipped = 0;
        worker.inFlight++;
      }
      worker.staged.clear();
    }
  }

  /** Closes the workers' listeners with 1001 and waits (bounded) for the workers to exit. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      this.#workers.map(async (w) => {
        if (w.child.exitCode !== null || w.child.signalCode !== null) return;
        const exited = new Promise((r) => w.child.once('exit', r));
        if (w.child.connected) w.child.send({ t: 'shutdown' } satisfies ToWorker);
        const timer = setTimeout(() => w.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  #spawn(index: number): Promise<void> {
    const child = fork(this.#entry, [JSON.stringify(this.#settings)], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new WorkerHandle(child);
    this.#workers[index] = worker;
    // E.g. a send on a channel that just closed: the exit handler below replaces the worker.
    child.on('error', (err) => this.#log.warn({ err, pid: child.pid }, 'fan-out worker channel error'));
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fan-out worker did not start')), READY_TIMEOUT_MS);
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`fan-out worker exited with ${code} at start`)));
      child.on('message', (message: FromWorker) => {
        if (message.t === 'ready') {
          clearTimeout(timer);
          resolve();
        } else this.#onMessage(worker, message);
      });
    });
    child.once('exit', (code, signal) => {
      // Its sockets died with it: their listeners are gone (they may reconnect with the same URL).
      for (const id of [...worker.listeners.keys()]) worker.closed(id);
      if (this.#stopping) return;
      this.#log.error({ code, signal, pid: child.pid }, 'fan-out worker exited; starting another');
      this.#spawn(index).catch((err) => this.#log.error({ err }, 'could not restart a fan-out worker'));
    });
    return ready;
  }

  #onMessage(worker: WorkerHandle, message: FromWorker): void {
    if (message.t === 'ack') worker.inFlight--;
    else if (message.t === 'closed') worker.closed(message.id);
    else if (message.t === 'socketError')
      this.#metrics.socketErrors.inc({ socket: 'listener', reason: message.reason });
    else if (message.t === 'uncaught') this.#metrics.uncaughtErrors.inc();
    else if (message.t === 'stats') {
      if (message.sent > 0) this.#metrics.framesOut.inc(message.sent);
      if (message.dropped > 0)
        this.#metrics.framesDropped.inc({ reason: 'listener_backlog' }, message.dropped);
      if (message.evicted > 0)
        this.#log.warn({ evicted: message.evicted }, 'closed listeners too slow to keep up');
    }
  }
}
