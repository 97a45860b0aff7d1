/**
 * The one real-time clock of a process: ticks every `periodMs` on deadlines computed from
 * `process.hrtime`, so timer lateness never accumulates into drift. After a stall (GC, a blocked
 * event loop) it runs the missed ticks back to back, up to `maxCatchUpTicks`, then skips the rest
 * and reports how many it skipped. It runs only while it has handlers, so an idle node costs nothing.
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
}

/**
 * Called once per tick with the tick number and how many more ticks are already due to run right
 * after this one (0 when the clock is on time; > 0 while it catches up after a stall), so that a
 * handler can batch work across a catch-up burst.
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
  #timer: NodeJS.Timeout | undefined;

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
    return this.#timer !== undefined;
  }

  /** Adds a handler, called once per tick with the tick number; starts the clock if it was idle. */
  add(handler: TickHandler): void {
    this.#handlers.add(handler);
    if (!this.#timer) {
      this.#next = this.#nowNs() + this.#periodNs;
      this.#schedule();
    }
  }

  /** Removes a handler; the clock stops when none remain. */
  remove(handler: TickHandler): void {
    this.#handlers.delete(handler);
    if (this.#handlers.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    const delayMs = Number(this.#next - this.#nowNs()) / 1e6;
    // setTimeout never fires early, so rounding up lands at or just after the deadline.
    this.#timer = setTimeout(this.#onTimer, Math.max(0, Math.ceil(delayMs)));
  }

  readonly #onTimer = (): void => {
    let now = this.#nowNs();
    let ran = 0;
    while (now >= this.#next && ran < this.#maxCatchUp && this.#handlers.size > 0) {
      const lateMs = Number(now - this.#next) / 1e6;
      const due = Number((now - this.#next) / this.#periodNs);
      this.#runHandlers(Math.min(due, this.#maxCatchUp - ran - 1));
      this.#next += this.#periodNs;
      ran++;
      const after = this.#nowNs();
      this.#options.onTick?.(Number(after - now) / 1e6, lateMs);
      now = after;
    }
    if (now >= this.#next) {
      const skipped = Number((now - this.#next) / this.#periodNs) + 1;
      this.#next += BigInt(skipped) * this.#periodNs;
      this.#tick += skipped;
      this.#options.onSkip?.(skipped);
    }
    if (this.#handlers.size > 0) this.#schedule();
    else this.#timer = undefined;
  };

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
