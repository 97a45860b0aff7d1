import type { ChildProcess } from 'node:child_process';
import type { ToWorker } from './fanout-protocol.js';
import type { ListenerSink, SendResult } from './listener.js';
import type { ListenerFormat } from './listener-options.js';

/** The main process's side of one fan-out worker: its channel, listeners, groups and what is in flight. */
export class WorkerHandle {
  readonly child: ChildProcess;
  readonly listeners = new Map<number, RemoteListener>();
  /** This tick's message per group, staged by the group's listeners (the same Buffer for all). */
  readonly staged = new Map<number, Buffer>();
  /** Groups (call × format) with listeners on this worker: numeric id and member count. */
  readonly #groups = new Map<string, { id: number; members: number }>();
  /** Batches sent and not yet acknowledged as written. */
  inFlight = 0;
  /** Ticks dropped for it since the last batch it was sent. */
  skipped = 0;

  constructor(child: ChildProcess) {
    this.child = child;
  }

  /** Counts a listener into the group of `key` on this worker; returns the group's id. */
  join(key: string, newId: () => number): number {
    let group = this.#groups.get(key);
    if (!group) this.#groups.set(key, (group = { id: newId(), members: 0 }));
    group.members++;
    return group.id;
  }

  /** Listeners of this worker in the given groups (only counted when a batch is dropped). */
  listenersIn(groups: ReadonlyMap<number, unknown>): number {
    let n = 0;
    for (const listener of this.listeners.values()) if (groups.has(listener.group)) n++;
    return n;
  }

  closed(id: number): void {
    const listener = this.listeners.get(id);
    if (!listener) return;
    this.listeners.delete(id);
    const key = listener.groupKey;
    const group = this.#groups.get(key);
    if (group && --group.members === 0) this.#groups.delete(key);
    listener.gone();
  }

  send(message: ToWorker): void {
    if (this.child.connected) this.child.send(message);
  }
}

/** A listener whose socket a fan-out worker owns: the room's view of it in this process. */
export class RemoteListener implements ListenerSink {
  readonly format: ListenerFormat;
  readonly tokenHash: string;
  readonly #worker: WorkerHandle;
  readonly #id: number;
  /** The worker's id of its group (call × format). */
  readonly group: number;
  /** Call and format: listeners with equal keys share every message. */
  readonly groupKey: string;
  #closed = false;
  #onClose: (() => void)[] = [];

  constructor(
    worker: WorkerHandle,
    id: number,
    group: number,
    groupKey: string,
    format: ListenerFormat,
    tokenHash: string,
  ) {
    this.tokenHash = tokenHash;
    this.#worker = worker;
    this.#id = id;
    this.group = group;
    this.groupKey = groupKey;
    this.format = format;
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: Buffer): SendResult {
    if (this.#closed) return 'closed';
    this.#worker.staged.set(this.group, frame);
    return 'queued';
  }

  sendEvent(event: Readonly<Record<string, unknown>>): void {
    if (this.format.events && !this.#closed) this.#worker.send({ t: 'event', id: this.#id, event });
  }

  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#worker.send({ t: 'close', id: this.#id, code, reason });
    this.gone();
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  /** The worker no longer has it (or is closing it): stop counting it as a listener. */
  gone(): void {
    this.#closed = true;
    const fns = this.#onClose;
    this.#onClose = [];
    for (const fn of fns) fn();
  }

  // The worker coalesces its own writes, on its own load.
  cork(): void {}
  uncork(): void {}
}
