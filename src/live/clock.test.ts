import { afterEach, describe, expect, it, vi } from 'vitest';
import { Clock } from './clock.js';

/**
 * Time under the test's control, as one event loop sees it: the clock reads `nowNs` (its injected
 * time source), and its timers (the global setTimeout/clearTimeout, stubbed) wait in a queue.
 * `runUntil` lets time pass, firing each timer when it falls due, in order; `block` is a callback
 * that holds the loop for a while, so a timer that falls due meanwhile fires late, when it ends.
 * Like Node's, a timer never fires sooner than 1 ms after it is set.
 */
function fakeTime() {
  let nowMs = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  vi.stubGlobal('setTimeout', (fn: () => void, ms: number) => {
    const id = nextId++;
    timers.set(id, { at: nowMs + Math.max(1, ms), fn });
    return id;
  });
  vi.stubGlobal('clearTimeout', (id: number) => timers.delete(id));
  return {
    nowNs: () => BigInt(nowMs) * 1_000_000n,
    nowMs: () => nowMs,
    pendingTimers: () => timers.size,
    runUntil(ms: number) {
      for (;;) {
        let first: [number, { at: number; fn: () => void }] | undefined;
        for (const entry of timers)
          if (entry[1].at <= ms && (!first || entry[1].at < first[1].at)) first = entry;
        if (!first) break;
        timers.delete(first[0]);
        nowMs = Math.max(nowMs, first[1].at);
        first[1].fn();
      }
      nowMs = Math.max(nowMs, ms);
    },
    block(ms: number) {
      nowMs += ms;
    },
  };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('Clock', () => {
  it('ticks on 20 ms deadlines: late timers and slow handlers do not accumulate into drift', () => {
    const time = fakeTime();
    const ticks: { durationMs: number; lateMs: number }[] = [];
    const clock = new Clock({
      nowNs: time.nowNs,
      onTick: (durationMs, lateMs) => ticks.push({ durationMs, lateMs }),
    });
    const at: number[] = [];
    clock.add(() => {
      at.push(time.nowMs());
      time.block(3); // each tick's work takes 3 ms
    });
    // Something else holds the loop for 7 ms around the deadline at 40 ms: that tick runs late.
    setTimeout(() => time.block(7), 35);
    time.runUntil(1000);
    clock.stop();
    // 50 ticks in a second, each on its deadline, except the one that could not run before 42 ms.
    expect(at).toEqual(Array.from({ length: 50 }, (_, i) => (i === 1 ? 42 : 20 * (i + 1))));
    expect(ticks.map((t) => t.durationMs)).toEqual(at.map(() => 3));
    expect(ticks.map((t) => t.lateMs)).toEqual(at.map((_, i) => (i === 1 ? 2 : 0)));
    expect(clock.tick).toBe(50);
  });

  it('runs missed ticks back to back after a stall, up to the catch-up limit, then skips', () => {
    const time = fakeTime();
    const skipped: number[] = [];
    const clock = new Clock({ nowNs: time.nowNs, maxCatchUpTicks: 5, onSkip: (n) => skipped.push(n) });
    const ran: [tick: number, at: number][] = [];
    clock.add((tick) => {
      ran.push([tick, time.nowMs()]);
      if (tick === 0) time.block(205); // the loop is held for ~10 periods: until 225 ms
    });
    time.runUntil(300);
    clock.stop();
    expect(ran).toEqual([
      [0, 20],
      // When the handler returns, deadlines 40..100 ms run back to back in the same timer callback
      // (5 ticks with the one that stalled: the limit) ...
      [1, 225],
      [2, 225],
      [3, 225],
      [4, 225],
      // ... those of 120..220 ms are skipped (6), and the clock goes on from the next deadline.
      [11, 240],
      [12, 260],
      [13, 280],
      [14, 300],
    ]);
    expect(skipped).toEqual([6]);
    // Counted ticks (run + skipped) follow time: 300 ms / 20 ms.
    expect(clock.tick).toBe(15);
  });

  it('tells each tick how many more are due: counting down to 0 through a catch-up burst', () => {
    const time = fakeTime();
    const clock = new Clock({ nowNs: time.nowNs, maxCatchUpTicks: 5 });
    const behind: number[] = [];
    clock.add((_tick, b) => behind.push(b));
    setTimeout(() => time.block(105), 61); // another callback holds the loop from 61 to 166 ms
    time.runUntil(300);
    clock.stop();
    // On time: 0. At 166 ms the deadlines 80..160 ms are due: 5 ticks, counting down to 0; then
    // on time again from 180 ms.
    expect(behind).toEqual([0, 0, 0, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(clock.tick).toBe(15);
  });

  it('counts down only within the catch-up limit when more ticks are due than it will run', () => {
    const time = fakeTime();
    const skipped: number[] = [];
    const clock = new Clock({ nowNs: time.nowNs, maxCatchUpTicks: 3, onSkip: (n) => skipped.push(n) });
    const behind: number[] = [];
    clock.add((_tick, b) => behind.push(b));
    setTimeout(() => time.block(100), 21); // from 21 to 121 ms: deadlines 40..120 ms fall due
    time.runUntil(140);
    clock.stop();
    // It runs 3 (40..80 ms) counting down from 2, skips 2 (100, 120 ms), runs 140 ms on time.
    expect(behind).toEqual([0, 2, 1, 0, 0]);
    expect(skipped).toEqual([2]);
    expect(clock.tick).toBe(7);
  });

  it('numbers ticks consecutively and isolates a throwing handler', () => {
    const time = fakeTime();
    const errors: unknown[] = [];
    const clock = new Clock({ nowNs: time.nowNs, onHandlerError: (e) => errors.push(e) });
    const ticks: number[] = [];
    clock.add(() => {
      throw new Error('boom');
    });
    clock.add((t) => ticks.push(t));
    time.runUntil(110);
    clock.stop();
    expect(ticks).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toEqual(ticks.map(() => new Error('boom')));
  });

  it('stops when the last handler is removed and restarts when one is added', () => {
    const time = fakeTime();
    const clock = new Clock({ nowNs: time.nowNs });
    const ran: number[] = [];
    const h = (tick: number) => ran.push(tick);
    clock.add(h);
    expect(clock.running).toBe(true);
    time.runUntil(40);
    clock.remove(h);
    expect(clock.running).toBe(false);
    expect(time.pendingTimers()).toBe(0);
    time.runUntil(140);
    expect(ran).toEqual([0, 1]);
    // Restarted, it counts on from where it stopped, a period after it is added.
    clock.add(h);
    expect(clock.running).toBe(true);
    time.runUntil(159);
    expect(ran).toEqual([0, 1]);
    time.runUntil(160);
    expect(ran).toEqual([0, 1, 2]);
    clock.stop();
    expect(time.pendingTimers()).toBe(0);
  });
});
