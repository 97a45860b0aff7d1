import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { DirectWriteBatch } from './direct-write.js';
import type { ListenerSink } from './listener.js';
import type { WriteCoalescing } from './modes.js';

/** Above this event-loop utilization (over one window) `auto` coalesces one more tick per write... */
export const ENTER_ABOVE = 0.85;
/** ...and below this one fewer: the gap keeps it from flapping, as coalescing itself lowers the load. */
export const LEAVE_BELOW = 0.5;
/** Ticks per measurement window (1 s). */
export const WINDOW_TICKS = 50;
/** At most this many ticks per write while the clock keeps time (up to 40 ms of added latency)... */
export const MAX_TICKS_PER_WRITE_ON_TIME = 3;
/**
 * ...and at most this many when, even so, ticks ran late in the window (catch-up ticks: the clock
 * fell behind, and beyond its catch-up allowance every listener would lose audio): up to 80 ms.
 * Above MAX_TICKS_PER_WRITE_ON_TIME, k comes down by one after each window with no late tick.
 */
export const MAX_TICKS_PER_WRITE = 5;
/**
 * Coalescing pays only when writing ticks is a real part of the load: more ticks per write only
 * while ticks take at least this share of the window's time, and fewer once they take under half
 * of it. A loop kept busy by something else (a flood of HTTP requests) gains nothing from holding
 * audio back, and listeners would only hear it later.
 */
export const MIN_TICK_SHARE = 0.2;

/**
 * Decides, tick by tick, whether this tick's listener messages are held back to be written with
 * the next tick's. On time, each 20 ms message is written as soon as it is mixed (lowest latency).
 * When the event loop is overloaded — mostly by `write(2)`: one system call per listener per
 * message — writing k ticks in one `writev` divides those system calls by k at the price of up to
 * (k − 1) × 20 ms of latency, where the alternative is the clock falling behind and listeners
 * losing audio. `auto` steps k between 1 and MAX_TICKS_PER_WRITE_ON_TIME on event-loop utilization,
 * one step per 1 s window, with hysteresis, and only while the ticks themselves are a good share of
 * the work (MIN_TICK_SHARE); beyond that, up to MAX_TICKS_PER_WRITE, only while ticks still run
 * late (latency is the price of not losing audio, and paid only then); `off` keeps k = 1 and
 * `always` k = 2.
 */
export class WriteCoalescingPolicy {
  readonly mode: WriteCoalescing;
  readonly #utilization: (since?: EventLoopUtilization) => EventLoopUtilization;
  readonly #onChange: (ticksPerWrite: number, utilization: number) => void;
  readonly #now: () => number;
  #since: EventLoopUtilization;
  #windowStart: number;
  #tickMs = 0;
  #ticks = 0;
  /** Whether a tick of the window ran late (more were due right after it). */
  #late = false;
  #ticksPerWrite: number;

  constructor(
    mode: WriteCoalescing,
    options: {
      onChange?: (ticksPerWrite: number, utilization: number) => void;
      /** `performance.eventLoopUtilization(since)`; injectable for tests. */
      utilization?: (since?: EventLoopUtilization) => EventLoopUtilization;
      /** A monotonic clock in ms (`performance.now`); injectable for tests. */
      now?: () => number;
    } = {},
  ) {
    this.mode = mode;
    this.#utilization = options.utilization ?? ((since) => performance.eventLoopUtilization(since));
    this.#now = options.now ?? (() => performance.now());
    this.#windowStart = this.#now();
    this.#onChange = options.onChange ?? (() => {});
    this.#since = this.#utilization();
    this.#ticksPerWrite = mode === 'always' ? 2 : 1;
  }

  /** Ticks whose messages currently go out in one write (1: every tick is written at once). */
  get ticksPerWrite(): number {
    return this.#ticksPerWrite;
  }

  /** Time spent mixing and writing a tick (the work coalescing can lower), added up per window. */
  addTickMs(ms: number): void {
    this.#tickMs += ms;
  }

  /**
   * Call once per tick, with how many more ticks are due right after it (the clock's `behind`);
   * true when this tick's messages should be held for the next one's.
   */
  holdBack(tick: number, behind = 0): boolean {
    if (behind > 0) this.#late = true;
    if (this.mode === 'auto' && ++this.#ticks >= WINDOW_TICKS) this.#measure();
    const k = this.#ticksPerWrite;
    return k > 1 && tick % k !== k - 1;
  }

  #measure(): void {
    this.#ticks = 0;
    const u = this.#utilization(this.#since).utilization;
    this.#since = this.#utilization();
    const now = this.#now();
    const share = this.#tickMs / Math.max(1, now - this.#windowStart);
    this.#windowStart = now;
    this.#tickMs = 0;
    const late = this.#late;
    this.#late = false;
    const k = this.#ticksPerWrite;
    const busy = u > ENTER_ABOVE && share >= MIN_TICK_SHARE;
    const next =
      busy && (k < MAX_TICKS_PER_WRITE_ON_TIME || late)
        ? Math.min(k + 1, MAX_TICKS_PER_WRITE)
        : u < LEAVE_BELOW || share < MIN_TICK_SHARE / 2 || (k > MAX_TICKS_PER_WRITE_ON_TIME && !late)
          ? Math.max(k - 1, 1)
          : k;
    if (next !== k) {
      this.#ticksPerWrite = next;
      this.#onChange(next, u);
    }
  }
}

/** Calls `visit` for every listener a tick writes to. */
export type ForEachListener = (visit: (listener: ListenerSink) => void) => void;

const cork = (listener: ListenerSink) => listener.cork();

/**
 * Writes ticks to listeners, holding a tick's messages back (the listeners corked) when the policy
 * coalesces or more ticks are already due (a catch-up burst), and writing everything held after the
 * last tick of the batch: one `send()` per listener through the direct-write batch (the held
 * messages of an output group concatenated once), or one `writev` per listener without it. The one
 * batching mechanism of every process that has listeners (the main process, media workers).
 */
export class TickWriter {
  readonly policy: WriteCoalescingPolicy;
  readonly #forEachListener: ForEachListener;
  readonly #batch: DirectWriteBatch | null;
  #corked = false;

  /**
   * `forEachListener` should visit the listeners of one output group one after another: those
   * share one buffer and one call into the addon when uncorked.
   */
  constructor(
    policy: WriteCoalescingPolicy,
    forEachListener: ForEachListener,
    batch: DirectWriteBatch | null = null,
  ) {
    this.policy = policy;
    this.#forEachListener = forEachListener;
    this.#batch = batch;
  }

  /** Runs `writeTick` (which sends the tick's messages), corked or not as the batch requires. */
  write(tick: number, behind: number, writeTick: () => void): void {
    const start = performance.now();
    const holdBack = this.policy.holdBack(tick, behind) || behind > 0;
    if (holdBack && !this.#corked) {
      this.#corked = true;
      this.#forEachListener(cork);
    }
    writeTick();
    if (!holdBack && this.#corked) {
      this.#corked = false;
      this.#forEachListener(this.#uncork);
      this.#batch?.flushFrames();
    }
    this.policy.addTickMs(performance.now() - start);
  }

  readonly #uncork = (listener: ListenerSink): void => listener.uncork(this.#batch);
}
