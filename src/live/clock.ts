/**
 * The one real-time clock of a process: ticks every `periodMs` on deadlines computed from
 * `process.hrtime`, so timer lateness never accumulates into drift. After a stall (GC, a blocked
 * event loop) it runs the missed ticks back to back, up to `maxCatchUpTicks`, then skips the rest
 * and reports how many it skipped; with `poll: 'once'` it first lets the loop poll for I/O once, so
 * that ingest frames that arrived meanwhile are read before the burst mixes. It runs only while it
 * has handlers, so an idle node costs nothing.
 */
export interface ClockOptions {
  readonly periodMs?: number;
  readonly maxCatchUpTicks?: number;
  /** Monotonic time in nanoseconds; injectable for tests. */
  readonly nowNs?: () => bigint;
  /** Called after each tick with how long all handlers took (ms) and how late the tick ran (ms). */
  readonly onTick?: (durationMs: number, lateMs: number) => void;
  /** Called with the number of ticks skipped after a stall longer than the catch-up allowance. */
  readonly onSkip?: (ticks: number) => void;
  readonly onHandlerError?: (err: unknown) => void;
  /**
   * Whether a catch-up burst waits for a poll of I/O. `never` (the default): a tick runs in the
   * timer phase, and so do the ticks that are due with it, back to back — for a process whose loop
   * also serves the HTTP API, where every poll may drain a batch of requests first (in
   * test/realtime/control-plane-flood.test.ts a listener heard gaps ≤ 54 ms this way, up to 109 ms
   * with `once`). `once`: an on-time tick runs in the timer phase; when more are due, the loop
   * polls once — reading what arrived during the stall — and then runs them back to back: for a
   * media worker, whose ingest frames are then in time, and whose floods of handshakes cost one
   * batch per burst.
   */
  readonly poll?: 'once' | 'never';
}

/**
 * Called once per tick with the tick number and how many more ticks are already due to run right
 * after this one (0 when the clock is on time; > 0 while it catches up after a stall), so that a
 * handler can batch work across a catch-up burst. The ticks of a burst run back to back, except
 * that with `poll: 'once'` I/O callbacks (and other immediates) run between its first tick and the
 * rest; `behind` never promises more ticks than will run, unless the clock is stopped meanwhile.
 */
export type TickHandler = (tick: number, behind: number) => void;

export class Clock {
  readonly #periodNs: bigint;
  readonly #maxCatchUp: number;
  readonly #nowNs: () => bigint;
  readonly #options: ClockOptions;
  readonly #handlers = new Set<TickHandler>();
  #next = 0n;
  #tick = 0;
  #running = false;
  /** Bumped by stop(): a tick in progress sees it and schedules nothing more. */
  #epoch = 0;
  /** Ticks run so far in the current catch-up burst (reset once the clock is on time again). */
  #ran = 0;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  /** Those waiting in afterTick(), released when the clock is on time again (or stops). */
  #waiters: (() => void)[] = [];

  constructor(options: ClockOptions = {}) {
    this.#periodNs = BigInt(Math.round((options.periodMs ?? 20) * 1e6));
    this.#maxCatchUp = options.maxCatchUpTicks ?? 10;
    this.#nowNs = options.nowNs ?? process.hrtime.bigint;
    this.#options = options;
  }

  /** Ticks run so far. */
  get tick(): number {
    return this.#tick;
  }

  get running(): boolean {
    return this.#running;
  }

  /**
   * Whether a tick is due and has not run yet: the loop is late for the audio. Work that can wait
   * (an HTTP request on a loop that also mixes) waits for afterTick() instead of delaying it more.
   */
  due(): boolean {
    return this.#running && this.#nowNs() >= this.#next;
  }

  /**
   * Resolves once the ticks now due have run and the clock waits for its next deadline (at once if
   * it is stopped). Waiters resume in the order they came, right after the tick; the next may find
   * the clock due again if those before it took a period, and wait again.
   */
  afterTick(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Adds a handler, called once per tick with the tick number; starts the clock if it was idle. */
  add(handler: TickHandler): void {
    this.#handlers.add(handler);
    if (!this.#running) {
      this.#running = true;
      this.#ran = 0;
      this.#next = this.#nowNs() + this.#periodNs;
      this.#schedule();
    }
  }

  /** Removes a handler; the clock stops when none remain. */
  remove(handler: TickHandler): void {
    this.#handlers.delete(handler);
    if (this.#handlers.size === 0) this.stop();
  }

  /** Stops at once: a tick already queued (timer or immediate) does not run; nothing stays scheduled. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#immediate) clearImmediate(this.#immediate);
    this.#timer = undefined;
    this.#immediate = undefined;
    this.#running = false;
    this.#epoch++;
    this.#release();
  }

  #release(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve();
  }

  #schedule(): void {
    const delayMs = Number(this.#next - this.#nowNs()) / 1e6;
    // setTimeout never fires early, so rounding up lands at or just after the deadline.
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(delayMs)));
  }

  /** A due tick runs in the timer phase; with `poll: 'once'` the ticks due with it wait for one poll. */
  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#step(this.#options.poll === 'once' ? 1 : Number.POSITIVE_INFINITY);
  };

  readonly #onImmediate = (): void => {
    this.#immediate = undefined;
    this.#step(Number.POSITIVE_INFINITY);
  };

  /**
   * Runs up to `count` due ticks back to back, then either queues the next due ones (an immediate:
   * the loop polls I/O first; only after the single tick of `poll: 'once'`), or skips what the
   * catch-up allowance does not cover, or waits for the next deadline.
   */
  #step(count: number): void {
    const epoch = this.#epoch;
    let now = this.#nowNs();
    for (let run = 0; run < count && now >= this.#next && this.#ran < this.#maxCatchUp; run++) {
      const lateMs = Number(now - this.#next) / 1e6;
      const due = Number((now - this.#next) / this.#periodNs);
      this.#runHandlers(Math.min(due, this.#maxCatchUp - this.#ran - 1));
      // A handler stopped the clock (and maybe started it again, with its own schedule).
      if (epoch !== this.#epoch) return;
      this.#next += this.#periodNs;
      this.#ran++;
      const after = this.#nowNs();
      this.#options.onTick?.(Number(after - now) / 1e6, lateMs);
      if (epoch !== this.#epoch) return;
      now = after;
    }
    if (now >= this.#next && this.#ran < this.#maxCatchUp) {
      this.#immediate = setImmediate(this.#onImmediate);
      return;
    }
    if (now >= this.#next) {
      const skipped = Number((now - this.#next) / this.#periodNs) + 1;
      this.#next += BigInt(skipped) * this.#periodNs;
      this.#tick += skipped;
      this.#options.onSkip?.(skipped);
      if (epoch !== this.#epoch) return;
    }
    this.#ran = 0;
    this.#schedule();
    this.#release();
  }

  #runHandlers(behind: number): void {
    const tick = this.#tick++;
    for (const handler of this.#handlers) {
      try {
        handler(tick, behind);
      } catch (err) {
        this.#options.onHandlerError?.(err);
      }
    }
  }
}
