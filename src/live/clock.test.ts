import { describe, expect, it } from 'vitest';
import { Clock } from './clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Clock', () => {
  it('ticks on 20 ms deadlines without drifting over a second', async () => {
    const clock = new Clock();
    const times: bigint[] = [];
    clock.add(() => times.push(process.hrtime.bigint()));
    await sleep(1010);
    clock.stop();
    // 50 ticks in a second, give or take one for timer granularity.
    expect(times.length).toBeGreaterThanOrEqual(45);
    expect(times.length).toBeLessThanOrEqual(52);
    const spanMs = Number(times.at(-1)! - times[0]) / 1e6;
    expect(spanMs / (times.length - 1)).toBeGreaterThan(19);
    expect(spanMs / (times.length - 1)).toBeLessThan(21);
  });

  it('runs missed ticks back to back after a stall, up to the catch-up limit, then skips', async () => {
    const skipped: number[] = [];
    const clock = new Clock({ maxCatchUpTicks: 5, onSkip: (n) => skipped.push(n) });
    let count = 0;
    clock.add(() => {
      count++;
      if (count === 1) {
        const until = Date.now() + 205; // block the loop for ~10 periods
        while (Date.now() < until) {}
      }
    });
    await sleep(300);
    clock.stop();
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    // Counted ticks (run + skipped) follow wall time: ~300 ms / 20 ms.
    expect(clock.tick).toBeGreaterThanOrEqual(13);
    expect(clock.tick).toBeLessThanOrEqual(16);
  });

  it('tells each tick how many more are due: counting down to 0 through a catch-up burst', async () => {
    const clock = new Clock({ maxCatchUpTicks: 5 });
    const behind: number[] = [];
    clock.add((_tick, b) => {
      behind.push(b);
      if (behind.length === 3) {
        const until = Date.now() + 125; // block the loop for ~6 periods
        while (Date.now() < until) {}
      }
    });
    await sleep(300);
    clock.stop();
    expect(behind.slice(0, 3)).toEqual([0, 0, 0]);
    // The burst after the stall: at most the catch-up limit, counting down by one to 0.
    const burst = behind.slice(3, 3 + behind.slice(3).indexOf(0) + 1);
    expect(burst.length).toBeGreaterThanOrEqual(3);
    expect(burst.length).toBeLessThanOrEqual(5);
    expect(burst).toEqual(burst.map((_, i) => burst.length - 1 - i));
    expect(behind.slice(3 + burst.length).every((b) => b <= 1)).toBe(true);
  });

  it('numbers ticks consecutively and isolates a throwing handler', async () => {
    const errors: unknown[] = [];
    const clock = new Clock({ onHandlerError: (e) => errors.push(e) });
    const ticks: number[] = [];
    clock.add(() => {
      throw new Error('boom');
    });
    clock.add((t) => ticks.push(t));
    await sleep(110);
    clock.stop();
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    expect(ticks).toEqual(ticks.map((_, i) => ticks[0] + i));
    expect(errors.length).toBe(ticks.length);
  });

  it('stops when the last handler is removed and restarts when one is added', async () => {
    const clock = new Clock();
    const h = () => {};
    clock.add(h);
    expect(clock.running).toBe(true);
    clock.remove(h);
    expect(clock.running).toBe(false);
    clock.add(h);
    expect(clock.running).toBe(true);
    clock.stop();
  });
});
