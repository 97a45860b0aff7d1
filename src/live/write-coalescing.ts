import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { WriteCoalescing } from '../config/load-config.js';

/** Above this event-loop utilization (over one window) `auto` starts coalescing... */
export const ENTER_ABOVE = 0.85;
/** ...and below this it stops: the gap keeps it from flapping, as coalescing itself lowers the load. */
export const LEAVE_BELOW = 0.5;
/** Ticks per measurement window (1 s). */
export const WINDOW_TICKS = 50;

/**
 * Decides, tick by tick, whether listener messages are written two ticks at a time. On time, each
 * 20 ms message is written as soon as it is mixed (lowest latency). When the event loop is
 * overloaded (mostly by `write(2)`: one system call per listener per message), writing two ticks
 * in one `writev` halves the system calls at the price of up to 20 ms of latency, where the
 * alternative is the clock falling behind and listeners losing audio. `auto` switches on event-loop
 * utilization with hysteresis; `off` and `always` are fixed.
 */
export class WriteCoalescingPolicy {
  readonly mode: WriteCoalescing;
  readonly #utilization: (since?: EventLoopUtilization) => EventLoopUtilization;
  readonly #onChange: (active: boolean, utilization: number) => void;
  #since: EventLoopUtilization;
  #ticks = 0;
  #active: boolean;

  constructor(
    mode: WriteCoalescing,
    options: {
      onChange?: (active: boolean, utilization: number) => void;
      /** `performance.eventLoopUtilization(since)`; injectable for tests. */
      utilization?: (since?: EventLoopUtilization) => EventLoopUtilization;
    } = {},
  ) {
    this.mode = mode;
    this.#utilization = options.utilization ?? ((since) => performance.eventLoopUtilization(since));
    this.#onChange = options.onChange ?? (() => {});
    this.#since = this.#utilization();
    this.#active = mode === 'always';
  }

  get active(): boolean {
    return this.#active;
  }

  /** Call once per tick; true when this tick's messages should be held for the next one's. */
  holdBack(tick: number): boolean {
    if (this.mode === 'auto' && ++this.#ticks >= WINDOW_TICKS) this.#measure();
    return this.#active && tick % 2 === 0;
  }

  #measure(): void {
    this.#ticks = 0;
    const window = this.#utilization(this.#since);
    this.#since = this.#utilization();
    const u = window.utilization;
    const next = this.#active ? u >= LEAVE_BELOW : u > ENTER_ABOVE;
    if (next !== this.#active) {
      this.#active = next;
      this.#onChange(next, u);
    }
  }
}
