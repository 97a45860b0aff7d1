import type { EventLoopUtilization } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import type { DirectWriteBatch } from './direct-write.js';
import type { ListenerSink } from './listener.js';
import {
  ENTER_ABOVE,
  LEAVE_BELOW,
  MAX_TICKS_PER_WRITE,
  MAX_TICKS_PER_WRITE_ON_TIME,
  MIN_TICK_SHARE,
  TickWriter,
  WINDOW_TICKS,
  WriteCoalescingPolicy,
} from './write-coalescing.js';

/** A fake `eventLoopUtilization` whose every window reads the next value of `windows`. */
function fakeUtilization(windows: number[]) {
  let i = 0;
  return (since?: EventLoopUtilization): EventLoopUtilization => {
    if (!since) return { idle: 0, active: 0, utilization: 0 };
    return { idle: 0, active: 0, utilization: windows[i++] ?? 0 };
  };
}

/** A fake monotonic clock that the test moves forward. */
function fakeClock() {
  const clock = { ms: 0, now: () => clock.ms };
  return clock;
}

/**
 * Runs whole windows of ticks (20 ms apart on `clock`), each tick taking `tickShare` of its 20 ms;
 * returns the ticks per write after each window. `late(w)`: whether window w has a late tick (the
 * clock behind, catching up).
 */
function run(
  policy: WriteCoalescingPolicy,
  windows: number,
  clock = fakeClock(),
  tickShare = 0.5,
  late: (window: number) => boolean = () => false,
) {
  const k: number[] = [];
  let tick = 0;
  for (let w = 0; w < windows; w++) {
    for (let t = 0; t < WINDOW_TICKS; t++) {
      policy.holdBack(tick++, late(w) && t === WINDOW_TICKS / 2 ? 2 : 0);
      policy.addTickMs(20 * tickShare);
      clock.ms += 20;
    }
    k.push(policy.ticksPerWrite);
  }
  return k;
}

describe('WriteCoalescingPolicy', () => {
  it('auto: one more tick per write above the enter threshold, one fewer below the leave threshold', () => {
    const changes: [number, number][] = [];
    const clock = fakeClock();
    const policy = new WriteCoalescingPolicy('auto', {
      now: clock.now,
      utilization: fakeUtilization([
        0.5,
        ENTER_ABOVE,
        0.95,
        0.7,
        0.9,
        0.99,
        0.99,
        LEAVE_BELOW + 0.01,
        0.3,
        0.8,
        0.2,
        0.1,
      ]),
      onChange: (k, u) => changes.push([k, u]),
    });
    // Busy but on time: no more than MAX_TICKS_PER_WRITE_ON_TIME.
    expect(run(policy, 12, clock)).toEqual([1, 1, 2, 2, 3, MAX_TICKS_PER_WRITE_ON_TIME, 3, 3, 2, 2, 1, 1]);
    expect(changes).toEqual([
      [2, 0.95],
      [3, 0.9],
      [2, 0.3],
      [1, 0.2],
    ]);
  });

  it('auto: beyond the on-time limit only while ticks still run late, and back once they do not', () => {
    const clock = fakeClock();
    const policy = new WriteCoalescingPolicy('auto', {
      now: clock.now,
      utilization: fakeUtilization(Array(10).fill(0.99)),
    });
    expect(MAX_TICKS_PER_WRITE).toBeGreaterThan(MAX_TICKS_PER_WRITE_ON_TIME);
    // Busy all along; ticks run late in windows 0–5 (a storm), then keep time.
    const ks = run(policy, 10, clock, 0.5, (w) => w <= 5);
    expect(ks).toEqual([2, 3, 4, 5, MAX_TICKS_PER_WRITE, MAX_TICKS_PER_WRITE, 4, 3, 3, 3]);
    // Back at the on-time limit: two ticks held, then one write of three.
    expect([0, 1, 2, 3, 4, 5].map((t) => policy.holdBack(t))).toEqual([true, true, false, true, true, false]);
  });

  it('auto: a loop kept busy by something other than ticks does not hold audio back', () => {
    const clock = fakeClock();
    const policy = new WriteCoalescingPolicy('auto', {
      now: clock.now,
      utilization: fakeUtilization([0.99, 0.99, 0.99, 0.99]),
    });
    // Ticks take 5 % of the time (say, an HTTP flood does the rest): never coalesced.
    expect(run(policy, 2, clock, 0.05)).toEqual([1, 1]);
    // Coalescing that began under fan-out load steps down once ticks are a small share again.
    const busy = new WriteCoalescingPolicy('auto', {
      now: clock.now,
      utilization: fakeUtilization([0.99, 0.99, 0.99, 0.99]),
    });
    expect(run(busy, 2, clock, MIN_TICK_SHARE + 0.1)).toEqual([2, 3]);
    expect(run(busy, 2, clock, MIN_TICK_SHARE / 2 - 0.01)).toEqual([2, 1]);
  });

  it('holds back all but the last tick of each group of k', () => {
    const clock = fakeClock();
    const policy = new WriteCoalescingPolicy('auto', {
      now: clock.now,
      utilization: fakeUtilization([0.9, 0.9]),
    });
    run(policy, 2, clock);
    expect(policy.ticksPerWrite).toBe(3);
    expect([0, 1, 2, 3, 4, 5].map((t) => policy.holdBack(t))).toEqual([true, true, false, true, true, false]);
  });

  it('holds back every even tick while active, so each write carries two ticks', () => {
    const policy = new WriteCoalescingPolicy('always');
    expect([0, 1, 2, 3, 4, 5].map((t) => policy.holdBack(t))).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
  });

  it('off never coalesces, whatever the load', () => {
    const policy = new WriteCoalescingPolicy('off', { utilization: fakeUtilization([1, 1, 1]) });
    expect(run(policy, 3)).toEqual([1, 1, 1]);
    expect([0, 1, 2].some((t) => policy.holdBack(t))).toBe(false);
  });
});

describe('TickWriter', () => {
  /** A listener that records cork, uncork and the ticks written while corked or not. */
  function recorder() {
    const log: string[] = [];
    const listener = {
      cork: () => log.push('cork'),
      uncork: (batch?: unknown) => log.push(batch ? 'uncork into batch' : 'uncork'),
    } as unknown as ListenerSink;
    return { log, forEach: (visit: (l: ListenerSink) => void) => visit(listener) };
  }

  it('writes on time at once, and holds a catch-up burst back until its last tick', () => {
    const { log, forEach } = recorder();
    const writer = new TickWriter(new WriteCoalescingPolicy('off'), forEach);
    for (const [tick, behind] of [
      [0, 0],
      [1, 2],
      [2, 1],
      [3, 0],
      [4, 0],
    ])
      writer.write(tick, behind, () => log.push(`tick ${tick}`));
    expect(log).toEqual(['tick 0', 'cork', 'tick 1', 'tick 2', 'tick 3', 'uncork', 'tick 4']);
  });

  it('holds back all but the last of each k ticks while the policy coalesces', () => {
    const { log, forEach } = recorder();
    const writer = new TickWriter(new WriteCoalescingPolicy('always'), forEach);
    for (let tick = 0; tick < 4; tick++) writer.write(tick, 0, () => log.push(`tick ${tick}`));
    expect(log).toEqual(['cork', 'tick 0', 'tick 1', 'uncork', 'cork', 'tick 2', 'tick 3', 'uncork']);
  });

  it('uncorks into the direct-write batch and writes it out once, after every listener', () => {
    const { log, forEach } = recorder();
    const batch = { flushFrames: () => log.push('flush') } as unknown as DirectWriteBatch;
    const writer = new TickWriter(
      new WriteCoalescingPolicy('always'),
      (visit) => {
        forEach(visit);
        forEach(visit);
      },
      batch,
    );
    for (let tick = 0; tick < 2; tick++) writer.write(tick, 0, () => log.push(`tick ${tick}`));
    expect(log).toEqual([
      'cork',
      'cork',
      'tick 0',
      'tick 1',
      'uncork into batch',
      'uncork into batch',
      'flush',
    ]);
  });
});
