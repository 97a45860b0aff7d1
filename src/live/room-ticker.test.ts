import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../observability/metrics.js';
import type { CallRoom } from './call-room.js';
import type { Clock, TickHandler } from './clock.js';
import type { ListenerSink, SendCounts } from './listener.js';
import { RoomTicker } from './room-ticker.js';

/** A 5 ms clock (4 sub-ticks per 20 ms period) that ticks when the test says so, on a time it sets. */
function setup(writeCoalescing: 'off' | 'always' = 'off') {
  const handlers = new Set<TickHandler>();
  let tick = 0;
  let nowMs = 1_000_000;
  const clock = {
    periodMs: 5,
    add: (h: TickHandler) => handlers.add(h),
    remove: (h: TickHandler) => handlers.delete(h),
  } as unknown as Clock;
  const ticker = new RoomTicker({
    clock,
    metrics: new Metrics(),
    log: pino({ level: 'silent' }),
    writeCoalescing,
    batch: null,
    nowMs: () => nowMs,
  });
  /** Runs sub-ticks, 5 ms apart; `during` is called with each sub-tick's time before it runs. */
  const run = (subTicks: number, during?: (atMs: number) => void) => {
    for (let i = 0; i < subTicks; i++) {
      during?.(nowMs);
      for (const h of handlers) h(tick++, 0);
      nowMs += 5;
    }
  };
  return { ticker, run, now: () => nowMs };
}

/** A room that records the times it mixed. */
function fakeRoom(name: string, mixedAt: string[]): CallRoom {
  const listener = { cork() {}, uncork() {} } as unknown as ListenerSink;
  return {
    tick: (_now: number, _result: SendCounts) => mixedAt.push(name),
    forEachListener: (fn: (l: ListenerSink) => void) => fn(listener),
  } as unknown as CallRoom;
}

describe('RoomTicker: each call mixed once per period, at its own sub-tick', () => {
  it('runs 4 sub-ticks per period and mixes every room exactly once per period', () => {
    const { ticker, run } = setup();
    const mixed: string[] = [];
    const rooms = ['a', 'b', 'c'].map((n) => fakeRoom(n, mixed));
    for (const r of rooms) ticker.add(r);
    expect(ticker.slots).toBe(4);
    run(4 * 10);
    for (const n of ['a', 'b', 'c']) expect(mixed.filter((m) => m === n)).toHaveLength(10);
  });

  it('moves a room to the sub-tick after its frames arrive, without mixing it twice in a period', () => {
    const { ticker, run } = setup();
    const mixed: string[] = [];
    const room = fakeRoom('a', mixed);
    ticker.add(room);
    // Frames arrive 5 ms into each period (slot 0 runs at 0 mod 20): by the end of their 1 ms bin
    // plus 3 ms in hand, 9 ms; the slot at 10 ms (2) is the first after it.
    const periods = 120;
    run(4 * periods, (atMs) => {
      if (atMs % 20 === 5) ticker.noteArrival(room);
    });
    expect(mixed).toHaveLength(periods);
    expect(ticker.slotOf(room)).toBe(2);
  });

  it('follows arrivals at another phase, and keeps one mix per period through the move', () => {
    const { ticker, run } = setup();
    const mixed: string[] = [];
    const room = fakeRoom('a', mixed);
    ticker.add(room);
    run(4 * 60, (atMs) => {
      if (atMs % 20 === 0) ticker.noteArrival(room); // by 1 ms + 3 → the slot at 5 ms
    });
    expect(ticker.slotOf(room)).toBe(1);
    // Once the old arrivals are 5 s old: by 11 + 3 → the slot at 15 ms.
    run(4 * 300, (atMs) => {
      if (atMs % 20 === 10) ticker.noteArrival(room);
    });
    expect(ticker.slotOf(room)).toBe(3);
    expect(mixed).toHaveLength(360);
  });

  it('leaves rooms where they are while listener writes are held back (coalescing)', () => {
    const { ticker, run } = setup('always');
    const mixed: string[] = [];
    const room = fakeRoom('a', mixed);
    ticker.add(room);
    const first = ticker.slotOf(room);
    run(4 * 120, (atMs) => {
      if (atMs % 20 === 5) ticker.noteArrival(room);
    });
    // `always` holds every other period back; placement waits for a period that holds nothing, which
    // with `always` never comes.
    expect(ticker.slotOf(room)).toBe(first);
    expect(mixed).toHaveLength(120);
  });

  it('a 20 ms clock (tests, or a caller that wants one phase) mixes every room on every tick', () => {
    const handlers = new Set<TickHandler>();
    const clock = {
      periodMs: 20,
      add: (h: TickHandler) => handlers.add(h),
      remove: (h: TickHandler) => handlers.delete(h),
    } as unknown as Clock;
    const ticker = new RoomTicker({
      clock,
      metrics: new Metrics(),
      log: pino({ level: 'silent' }),
      writeCoalescing: 'off',
      batch: null,
    });
    const mixed: string[] = [];
    ticker.add(fakeRoom('a', mixed));
    for (let t = 0; t < 5; t++) for (const h of handlers) h(t, 0);
    expect(ticker.slots).toBe(1);
    expect(mixed).toHaveLength(5);
  });
});
