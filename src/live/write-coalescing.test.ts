import type { EventLoopUtilization } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ENTER_ABOVE, LEAVE_BELOW, WINDOW_TICKS, WriteCoalescingPolicy } from './write-coalescing.js';

/** A fake `eventLoopUtilization` whose every window reads the next value of `windows`. */
function fakeUtilization(windows: number[]) {
  let i = 0;
  return (since?: EventLoopUtilization): EventLoopUtilization => {
    if (!since) return { idle: 0, active: 0, utilization: 0 };
    return { idle: 0, active: 0, utilization: windows[i++] ?? 0 };
  };
}

/** Runs whole windows of ticks; returns, per window, whether its last tick pair was coalesced. */
function run(policy: WriteCoalescingPolicy, windows: number) {
  const active: boolean[] = [];
  let tick = 0;
  for (let w = 0; w < windows; w++) {
    for (let t = 0; t < WINDOW_TICKS; t++) policy.holdBack(tick++);
    active.push(policy.active);
  }
  return active;
}

describe('WriteCoalescingPolicy', () => {
  it('auto: starts above the enter threshold, stops only below the leave threshold', () => {
    const changes: [boolean, number][] = [];
    const policy = new WriteCoalescingPolicy('auto', {
      utilization: fakeUtilization([0.5, ENTER_ABOVE, 0.95, 0.7, LEAVE_BELOW + 0.01, 0.3, 0.8]),
      onChange: (a, u) => changes.push([a, u]),
    });
    expect(run(policy, 7)).toEqual([false, false, true, true, true, false, false]);
    expect(changes).toEqual([
      [true, 0.95],
      [false, 0.3],
    ]);
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
    expect(run(policy, 3)).toEqual([false, false, false]);
    expect([0, 1, 2].some((t) => policy.holdBack(t))).toBe(false);
  });
});
