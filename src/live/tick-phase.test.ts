import { describe, expect, it } from 'vitest';
import { ArrivalPhases, PHASE_MARGIN_MS } from './tick-phase.js';

let period = 50_000;
/** Notes `count` frames, one per 20 ms period (the periods running on from call to call), each `phaseMs` (± jitter) into it. */
function arrive(phases: ArrivalPhases, phaseMs: number, count: number, jitterMs = 0, seed = 1): void {
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    const jitter = (state / 2 ** 32 - 0.5) * 2 * jitterMs;
    phases.note(period++ * 20 + phaseMs + jitter);
  }
}

describe('ArrivalPhases: the sub-tick a call is mixed at', () => {
  it('the first slot after its frames arrive with the margin in hand (4 slots: 0, 5, 10, 15 ms)', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 3.2, 50, 0.3);
    // Frames by 4 ms (the bin's edge) + 3 ms of margin: 5 ms is too soon, 10 ms the first in time.
    expect(PHASE_MARGIN_MS).toBe(3);
    expect(phases.bestSlot(0, 4, 0)).toBe(2);
  });

  it('places the slots where slot 0 runs: the same arrivals against slot 0 at 7 ms', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 3.2, 50);
    // Slots at 7, 12, 17, 2: 7 ms is the first at or after 4 + 3 ms.
    expect(phases.bestSlot(7, 4, 3)).toBe(0);
  });

  it('wraps around the period: frames just before its end are mixed early in the next', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 19.5, 50);
    expect(phases.bestSlot(0, 4, 0)).toBe(1); // 20 + 3 → 23 ≡ 3 ms: the slot at 5 ms
  });

  it('with participants arriving apart, after the later of them', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 2.5, 50);
    arrive(phases, 11.5, 50);
    // By 3 and 12 ms (+ 3): a mix at 15 ms waits 9 ms for the first and none for the second; at 5 ms
    // the second would wait 10 ms (into the next period): about the same, so it stays where it is.
    expect(phases.bestSlot(0, 4, 3)).toBe(3);
    const other = new ArrivalPhases();
    arrive(other, 2.5, 50);
    arrive(other, 11.5, 50);
    expect([1, 3]).toContain(other.bestSlot(0, 4, 0));
  });

  it('counts every frame of the last 5 s, a rare late one too (it would grow the jitter buffer), then forgets it', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 8.2, 96);
    arrive(phases, 12.5, 1); // one frame held up 4 ms
    // By 13 + 3 = 16 ms: the slot at 0 (20), not the one at 15 that the others alone would get.
    expect(phases.bestSlot(0, 4, 1)).toBe(0);
    arrive(phases, 8.2, 200); // 4 s
    expect(phases.bestSlot(0, 4, 0)).toBe(0);
    arrive(phases, 8.2, 60); // past 5 s
    expect(phases.bestSlot(0, 4, 0)).toBe(3);
  });

  it('stays put on too few frames, on one slot, and when no slot is a millisecond sooner', () => {
    const few = new ArrivalPhases();
    arrive(few, 3.2, 5);
    expect(few.bestSlot(0, 4, 1)).toBe(1);
    const one = new ArrivalPhases();
    arrive(one, 3.2, 50);
    expect(one.bestSlot(0, 1, 0)).toBe(0);
    const spread = new ArrivalPhases();
    for (let p = 0; p < 20; p++) arrive(spread, p + 0.5, 5, 0, p + 1);
    expect(spread.bestSlot(0, 4, 2)).toBe(2);
  });

  it('follows a call whose timing moves, once its old arrivals are 5 s old', () => {
    const phases = new ArrivalPhases();
    arrive(phases, 3.2, 50);
    expect(phases.bestSlot(0, 4, 0)).toBe(2);
    arrive(phases, 13.2, 251);
    expect(phases.bestSlot(0, 4, 2)).toBe(0); // by 14 + 3 = 17 ms: the next slot at 0 (20)
  });
});
