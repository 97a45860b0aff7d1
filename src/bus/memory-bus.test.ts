import { describe, expect, it } from 'vitest';
import type { TrackFrame } from '../domain/audio-format.js';
import type { CallEvent } from './bus.js';
import { MemoryBus } from './memory-bus.js';

const frame = (callPk: string): TrackFrame => ({
  callPk,
  participant: 'caller',
  seq: 0,
  captureTimeMs: 0,
  samples: new Int16Array(320),
});

describe('MemoryBus', () => {
  it('delivers frames only to subscribers of that call, by reference', () => {
    const bus = new MemoryBus();
    const got: TrackFrame[] = [];
    const other: TrackFrame[] = [];
    bus.subscribeFrames('a', (f) => got.push(f));
    bus.subscribeFrames('b', (f) => other.push(f));
    const f = frame('a');
    bus.publishFrame(f);
    expect(got).toEqual([f]);
    expect(got[0]).toBe(f);
    expect(other).toEqual([]);
  });

  it('stops delivering after unsubscribe, and unsubscribing twice is harmless', () => {
    const bus = new MemoryBus();
    const got: CallEvent[] = [];
    const off = bus.subscribeCallEvents('a', (e) => got.push(e));
    bus.publishCallEvent('a', { type: 'ended' });
    off();
    off();
    bus.publishCallEvent('a', { type: 'revoked' });
    expect(got).toEqual([{ type: 'ended' }]);
  });

  it('isolates a throwing handler from the publisher and the other handlers', () => {
    const errors: unknown[] = [];
    const bus = new MemoryBus({ onHandlerError: (e) => errors.push(e) });
    const got: CallEvent[] = [];
    bus.subscribeCallEvents('a', () => {
      throw new Error('boom');
    });
    bus.subscribeCallEvents('a', (e) => got.push(e));
    expect(() => bus.publishCallEvent('a', { type: 'ended' })).not.toThrow();
    expect(got).toHaveLength(1);
    expect(errors).toHaveLength(1);
  });
});
