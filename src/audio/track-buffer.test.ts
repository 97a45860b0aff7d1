import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_SAMPLES } from '../domain/audio-format.js';
import { TrackBuffer, type TrackBufferOptions, type TrackPull } from './track-buffer.js';

/** A frame whose every sample is `value` (tests identify frames by it). */
const frame = (value: number) => new Int16Array(FRAME_SAMPLES).fill(value);

/** Pulls `n` ticks, returning each result with the first sample (frame identity) of its output. */
function pullMany(tb: TrackBuffer, n: number): Array<[TrackPull, number]> {
  const out = new Int16Array(FRAME_SAMPLES);
  return Array.from({ length: n }, () => {
    const result = tb.pull(out);
    return [result, out[0]];
  });
}

function pushSeqs(tb: TrackBuffer, seqs: readonly number[]): void {
  for (const seq of seqs) tb.push(seq, frame(seq + 1));
}

function buffer(options: TrackBufferOptions = {}, seqs: readonly number[] = []): TrackBuffer {
  const tb = new TrackBuffer(options);
  pushSeqs(tb, seqs);
  return tb;
}

describe('TrackBuffer', () => {
  it('is idle and silent before any frame arrives', () => {
    const tb = buffer();
    const out = frame(7);
    expect(tb.pull(out)).toBe('idle');
    expect(out).toEqual(frame(0));
  });

  it('plays frames in order once one frame is buffered (default prebuffer)', () => {
    const tb = buffer({}, [0]);
    expect(pullMany(tb, 1)).toEqual([['audio', 1]]);
    pushSeqs(tb, [1]);
    expect(pullMany(tb, 1)).toEqual([['audio', 2]]);
    expect(tb.stats.framesPlayed).toBe(2);
  });

  it('waits for the configured prebuffer before starting', () => {
    const tb = buffer({ prebufferFrames: 2 }, [0]);
    expect(pullMany(tb, 1)).toEqual([['idle', 0]]);
    pushSeqs(tb, [1]);
    expect(pullMany(tb, 2)).toEqual([
      ['audio', 1],
      ['audio', 2],
    ]);
  });

  it('puts out-of-order frames back in order, before and during playback', () => {
    const tb = buffer({ prebufferFrames: 2 }, [1, 0]);
    pushSeqs(tb, [3, 2]);
    expect(pullMany(tb, 4).map(([, v]) => v)).toEqual([1, 2, 3, 4]);
  });

  it('plays a duplicated frame once and counts the copy', () => {
    const tb = buffer({ prebufferFrames: 2 }, [0, 0, 1]);
    expect(pullMany(tb, 3).map(([r]) => r)).toEqual(['audio', 'audio', 'concealed']);
    expect(tb.stats.framesDuplicate).toBe(1);
  });

  it('discards and counts frames arriving after their slot was played', () => {
    const tb = buffer({}, [0]);
    pullMany(tb, 2); // plays 0, conceals 1
    pushSeqs(tb, [1, 0, 2]);
    expect(tb.stats.framesLate).toBe(2);
    expect(pullMany(tb, 1)).toEqual([['audio', 3]]);
  });

  it('drops the oldest frames beyond capacity, bounding latency', () => {
    const tb = buffer({ capacityFrames: 5 }, [0, 1, 2, 3, 4, 5, 6]);
    expect(tb.depth).toBe(5);
    expect(tb.stats.framesDropped).toBe(2);
    expect(pullMany(tb, 1)).toEqual([['audio', 3]]);
  });

  it('sheds a quiet frame to win latency back when a burst left it deeper than the prebuffer', () => {
    const tb = buffer({ trimAfterTicks: 25 }, [0, 1, 2, 3]); // a burst: 3 frames more than needed
    let seq = 4;
    const depths: number[] = [];
    for (let tick = 0; tick < 200; tick++) {
      tb.pull(new Int16Array(FRAME_SAMPLES));
      tb.push(seq, frame(seq + 1)); // then one frame per tick, steadily
      seq++;
      depths.push(tb.depth);
    }
    // Each shed frame takes 20 ms of latency back: after three, it is down to the prebuffer.
    expect(tb.stats.framesDropped).toBe(3);
    expect(depths.slice(-20).every((d) => d <= 1)).toBe(true);
    expect(depths[10]).toBe(4);
  });

  it('waits four times as long before shedding a loud frame', () => {
    const loud = (seq: number) => new Int16Array(FRAME_SAMPLES).fill(10_000 + seq);
    const tb = new TrackBuffer({ trimAfterTicks: 10 });
    for (const s of [0, 1]) tb.push(s, loud(s));
    let seq = 2;
    const droppedAt: number[] = [];
    for (let tick = 0; tick < 60; tick++) {
      tb.pull(new Int16Array(FRAME_SAMPLES));
      tb.push(seq, loud(seq));
      seq++;
      if (tb.stats.framesDropped > droppedAt.length) droppedAt.push(tick);
    }
    expect(droppedAt).toEqual([39]);
  });

  it('conceals up to two missing frames with a fade to zero, then plays silence', () => {
    const tb = buffer();
    tb.push(0, frame(1000));
    const out = new Int16Array(FRAME_SAMPLES);
    expect(tb.pull(out)).toBe('audio');
    expect(tb.pull(out)).toBe('concealed');
    expect([out[0], out[FRAME_SAMPLES - 1]]).toEqual([1000, 502]);
    expect(tb.pull(out)).toBe('concealed');
    expect([out[0], out[FRAME_SAMPLES - 1]]).toEqual([500, 2]);
    expect(tb.pull(out)).toBe('silence');
    expect(out).toEqual(frame(0));
    expect(tb.stats).toMatchObject({ framesLost: 3, framesConcealed: 2 });
    pushSeqs(tb, [4]);
    expect(pullMany(tb, 1)).toEqual([['audio', 5]]);
  });

  it('conceals a hole in the middle of a stream and carries on', () => {
    const tb = buffer({}, [0, 2]);
    expect(pullMany(tb, 3).map(([r]) => r)).toEqual(['audio', 'concealed', 'audio']);
    expect(tb.stats.framesLost).toBe(1);
  });

  it('goes idle after a gap longer than capacity and re-primes on any seq', () => {
    const tb = buffer({ capacityFrames: 5 }, [0]);
    expect(pullMany(tb, 7).map(([r]) => r)).toEqual([
      'audio',
      'concealed',
      'concealed',
      'silence',
      'silence',
      'silence',
      'idle',
    ]);
    expect(tb.stats.framesLost).toBe(5);
    pushSeqs(tb, [0]); // rejoined, seq restarted
    expect(pullMany(tb, 1)).toEqual([['audio', 1]]);
  });

  it('re-syncs at once on a seq far behind or far ahead', () => {
    const tb = buffer({ resyncFrames: 50 }, [0]);
    for (let seq = 1; seq < 60; seq++) {
      pushSeqs(tb, [seq]);
      pullMany(tb, 1);
    }
    pushSeqs(tb, [0]); // 59 behind: frame 59, still buffered, is dropped
    expect(pullMany(tb, 1)).toEqual([['audio', 1]]);
    pushSeqs(tb, [1, 500]); // 499 ahead: frame 1 is dropped
    expect(pullMany(tb, 1)).toEqual([['audio', 501]]);
    expect(tb.stats).toMatchObject({ framesLate: 0, framesDropped: 2, framesLost: 0 });
  });

  it('treats a steady run of late frames as a restarted stream', () => {
    const tb = buffer({ capacityFrames: 5 }, [0, 1, 2, 3, 4]);
    pullMany(tb, 5);
    pushSeqs(tb, [0, 1, 2, 3, 4, 0, 1]);
    expect(tb.stats.framesLate).toBe(5);
    expect(pullMany(tb, 2)).toEqual([
      ['audio', 1],
      ['audio', 2],
    ]);
  });

  it('plays out what is buffered after end() and then goes idle without counting losses', () => {
    const tb = buffer({ prebufferFrames: 3 }, [0, 1]);
    tb.end();
    expect(pullMany(tb, 3).map(([r]) => r)).toEqual(['audio', 'audio', 'idle']);
    expect(tb.stats.framesLost).toBe(0);
    pushSeqs(tb, [0, 1, 2]);
    expect(pullMany(tb, 1)).toEqual([['audio', 1]]);
  });

  it('reset() drops what is buffered and goes idle', () => {
    const tb = buffer({}, [0, 1]);
    tb.reset();
    expect(pullMany(tb, 1)).toEqual([['idle', 0]]);
    expect(tb.stats.framesDropped).toBe(2);
  });

  it('never throws on odd input: short and long frames, invalid seqs, short out', () => {
    const tb = buffer();
    tb.push(0, Int16Array.of(9, 9));
    tb.push(1, new Int16Array(FRAME_SAMPLES + 10).fill(3));
    for (const seq of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) tb.push(seq, frame(1));
    const out = new Int16Array(FRAME_SAMPLES).fill(5);
    expect(tb.pull(out)).toBe('audio');
    expect([out[0], out[1], out[2], out[FRAME_SAMPLES - 1]]).toEqual([9, 9, 0, 0]);
    expect(tb.pull(new Int16Array(10))).toBe('audio');
    expect(tb.pull(new Int16Array(10))).toBe('concealed');
    expect(tb.stats.framesDropped).toBe(4);
  });

  it('rejects invalid options at construction', () => {
    expect(() => new TrackBuffer({ capacityFrames: 0 })).toThrow(RangeError);
    expect(() => new TrackBuffer({ prebufferFrames: 6, capacityFrames: 5 })).toThrow(RangeError);
    expect(() => new TrackBuffer({ maxConcealFrames: -1 })).toThrow(RangeError);
    expect(() => new TrackBuffer({ resyncFrames: 3, capacityFrames: 5 })).toThrow(RangeError);
  });

  it('always fills the frame and keeps its counters consistent, whatever happens', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('pull' as const) }),
      fc.record({ kind: fc.constant('push' as const), delta: fc.integer({ min: -8, max: 8 }) }),
      fc.record({ kind: fc.constant('jump' as const), seq: fc.nat({ max: 10_000 }) }),
      fc.record({ kind: fc.constantFrom('end' as const, 'reset' as const) }),
    );
    const options = fc.record({
      capacityFrames: fc.integer({ min: 1, max: 8 }),
      prebufferFrames: fc.integer({ min: 1, max: 8 }),
      maxConcealFrames: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(options, fc.array(op, { maxLength: 200 }), (opts, ops) => {
        const capacityFrames = opts.capacityFrames;
        const tb = new TrackBuffer({
          ...opts,
          prebufferFrames: Math.min(opts.prebufferFrames, capacityFrames),
        });
        const out = new Int16Array(FRAME_SAMPLES);
        let clock = 0; // the sender's notion of the current seq
        for (const o of ops) {
          if (o.kind === 'pull') {
            out.fill(-32768); // never produced by the frames below, so leftovers show
            const result = tb.pull(out);
            expect(out.includes(-32768), result).toBe(false);
            if (result !== 'audio') expect(result === 'concealed' || out.every((v) => v === 0)).toBe(true);
            clock++;
          } else if (o.kind === 'push') {
            const seq = Math.max(0, clock + o.delta);
            tb.push(seq, frame((seq % 1000) + 1));
          } else if (o.kind === 'jump') {
            tb.push(o.seq, frame(1));
            clock = o.seq;
          } else if (o.kind === 'end') tb.end();
          else tb.reset();
          const s = tb.stats;
          expect(Object.values(s).every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
          expect(tb.depth).toBeGreaterThanOrEqual(0);
          expect(tb.depth).toBeLessThanOrEqual(capacityFrames);
          expect(s.framesIn).toBe(
            s.framesPlayed + s.framesLate + s.framesDropped + s.framesDuplicate + tb.depth,
          );
          expect(s.framesConcealed).toBeLessThanOrEqual(s.framesLost);
        }
      }),
      { numRuns: 300 },
    );
  });
});
