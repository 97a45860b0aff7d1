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
    expect([tb.depthFrames, tb.targetFrames]).toEqual([0, 1]);
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
    const tb = buffer({}, [0, 2]);
    pullMany(tb, 3); // plays 0, conceals 1, plays 2
    pushSeqs(tb, [1, 0, 3]);
    expect(tb.stats).toMatchObject({ framesLate: 2, framesRecovered: 0 });
    expect(pullMany(tb, 1)).toEqual([['audio', 4]]);
  });

  it('plays a frame that arrives after its slot was concealed, if nothing played since', () => {
    const tb = buffer({}, [0]);
    pullMany(tb, 2); // plays 0, conceals 1
    pushSeqs(tb, [1, 0, 2]); // 1 only late: played after all; 0 was played already
    expect(tb.stats).toMatchObject({ framesLate: 1, framesRecovered: 1, framesLost: 1, framesConcealed: 1 });
    expect(pullMany(tb, 2)).toEqual([
      ['audio', 2],
      ['audio', 3],
    ]);
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
    expect(() => new TrackBuffer({ shrinkAfterTicks: 0 })).toThrow(RangeError);
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
      shrinkAfterTicks: fc.integer({ min: 1, max: 20 }),
      trimAfterTicks: fc.integer({ min: 1, max: 10 }),
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
          expect(s.framesRecovered).toBeLessThanOrEqual(s.framesPlayed + tb.depth);
          expect(tb.depthFrames).toBeGreaterThanOrEqual(0);
          expect(tb.depthFrames).toBeLessThanOrEqual(capacityFrames);
          expect(tb.targetFrames).toBeGreaterThanOrEqual(1);
          expect(tb.targetFrames).toBeLessThanOrEqual(capacityFrames);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * A sender that sends frame s at tick s over a connection that delays it `delay(s)` ticks; like a
 * WebSocket it delivers in order (a held-up frame holds up the ones behind it) unless `reorder`.
 * Each tick, the frames that have arrived are pushed, then the buffer is pulled once, as the mixer
 * does. Frame s holds (s % 300) + 1 (quiet, so that shedding one is allowed at once); the log
 * tells which frame each pull put out by `id`, (s % 300) for a played frame.
 */
function simulate(
  tb: TrackBuffer,
  ticks: number,
  delay: (seq: number) => number,
  { from = 0, reorder = false }: { from?: number; reorder?: boolean } = {},
) {
  const arrivals = new Map<number, number[]>();
  let lastArrival = -1;
  for (let seq = from; seq < from + ticks; seq++) {
    const at = reorder ? seq + delay(seq) : Math.max(lastArrival, seq + delay(seq));
    lastArrival = at;
    arrivals.set(at, [...(arrivals.get(at) ?? []), seq]);
  }
  const out = new Int16Array(FRAME_SAMPLES);
  const log: { tick: number; result: TrackPull; id: number; depth: number; target: number }[] = [];
  for (let tick = from; tick < from + ticks; tick++) {
    for (const seq of arrivals.get(tick) ?? []) tb.push(seq, frame((seq % 300) + 1));
    const result = tb.pull(out);
    log.push({ tick, result, id: out[0] - 1, depth: tb.depthFrames, target: tb.targetFrames });
  }
  return log;
}

describe('TrackBuffer adapting its depth to jitter', () => {
  it('keeps a depth of 1 frame while frames arrive steadily', () => {
    const tb = new TrackBuffer();
    const log = simulate(tb, 1000, () => 0);
    expect(log.every((e) => e.result === 'audio' && e.depth === 1 && e.target === 1)).toBe(true);
    expect(tb.stats).toMatchObject({ framesPlayed: 1000, framesLost: 0, framesLate: 0, framesDropped: 0 });
  });

  it('grows at once on a late frame: it is played after all, and the depth becomes its lateness + 1', () => {
    const tb = new TrackBuffer();
    // Frame 100 is held up 2 ticks (and 101 behind it).
    const log = simulate(tb, 200, (seq) => (seq === 100 ? 2 : 0));
    expect(log.slice(99, 104).map((e) => [e.result, e.result === 'audio' ? e.id : '-', e.depth])).toEqual([
      ['audio', 99, 1],
      ['concealed', '-', 1],
      ['concealed', '-', 1],
      ['audio', 100, 3], // played after all, 40 ms later than it would have been
      ['audio', 101, 3],
    ]);
    expect(log.slice(102).every((e) => e.depth === 3 && e.target === 3)).toBe(true);
    expect(log.slice(102).every((e) => e.result === 'audio')).toBe(true);
    // Nothing thrown away: every frame sent has been played or is buffered.
    expect(tb.stats).toMatchObject({ framesLost: 2, framesConcealed: 2, framesRecovered: 1, framesLate: 0 });
    expect(tb.stats.framesPlayed + tb.depth).toBe(200);
  });

  it('conceals nothing more once grown: jitter within the depth is absorbed', () => {
    const tb = new TrackBuffer();
    // A 2-tick delay at 100, then delays of 0–2 ticks in a fixed pseudo-random pattern, with a
    // 2-tick one at least every 3 s so that the target holds.
    const delay = (seq: number) => (seq < 100 ? 0 : seq % 150 === 100 ? 2 : (seq * 7919) % 3);
    const log = simulate(tb, 3000, delay);
    const concealedAfter = log.slice(102).filter((e) => e.result !== 'audio');
    expect(concealedAfter).toEqual([]);
    expect(tb.stats).toMatchObject({ framesLost: 2, framesLate: 0, framesDropped: 0 });
    expect(Math.max(...log.map((e) => e.depth))).toBe(3);
  });

  it('shrinks back slowly, one frame per quiet spell, without losing a frame', () => {
    const tb = new TrackBuffer({ shrinkAfterTicks: 250, trimAfterTicks: 25 });
    const log = simulate(tb, 1200, (seq) => (seq === 100 ? 2 : 0));
    const depthAt = (tick: number) => log[tick].depth;
    expect([depthAt(110), depthAt(340)]).toEqual([3, 3]); // held for 250 ticks after the late frame
    // Then the target falls to 2 and, 25 plays later, a (quiet) frame is shed: depth 2 …
    expect(log[360].target).toBe(2);
    expect([depthAt(400), depthAt(590)]).toEqual([2, 2]);
    // … and after another 250 ticks, 1.
    expect(log[660].target).toBe(1);
    expect(log.slice(700).every((e) => e.depth === 1 && e.target === 1 && e.result === 'audio')).toBe(true);
    // Two frames shed (dropped), 20 ms each; nothing else lost or late after the first event.
    expect(tb.stats).toMatchObject({ framesDropped: 2, framesLost: 2, framesLate: 0 });
  });

  it('does not take a mixer stall for jitter: frames that pile up while ticks are behind', () => {
    const tb = new TrackBuffer();
    const out = new Int16Array(FRAME_SAMPLES);
    const results: TrackPull[] = [];
    for (let seq = 0; seq < 600; seq++) {
      tb.push(seq, frame(1));
      // Every 50 ticks the mixer stalls for 4 ticks: their frames arrive (are read) first, then
      // the 4 ticks run one after another. In ticks, the 3 later frames look early.
      if (seq % 50 === 49) {
        for (const late of [1, 2, 3]) tb.push(seq + late, frame(1));
        for (let i = 0; i < 4; i++) results.push(tb.pull(out));
        seq += 3;
      } else results.push(tb.pull(out));
    }
    expect(results.every((r) => r === 'audio')).toBe(true);
    expect([tb.depthFrames, tb.targetFrames]).toEqual([1, 1]);
    expect(tb.stats).toMatchObject({ framesLost: 0, framesDropped: 0, framesLate: 0 });
  });

  it('takes frames cut from one longer message as one arrival, not as jitter', () => {
    const tb = new TrackBuffer();
    // 60 ms messages: frames s, s+1, s+2 arrive together when s+2 is due.
    const log = simulate(tb, 900, (seq) => 2 - (seq % 3));
    expect(log.slice(3).every((e) => e.result === 'audio' && e.depth === 1 && e.target === 1)).toBe(true);
    expect(tb.stats).toMatchObject({ framesLost: 0, framesDropped: 0 });
  });

  it('waits for a frame instead of skipping it while the playout is below the target', () => {
    const tb = new TrackBuffer();
    // Reordered: frame 100 comes 2 ticks late but 101 on time, so 100 cannot be recovered (101
    // played first); the target grows to 3 anyway. When 200 is late the same way, the buffer
    // waits for it instead of skipping it: two concealed slots, no frame lost, depth 3 after.
    const log = simulate(tb, 260, (seq) => (seq === 100 || seq === 200 ? 2 : 0), { reorder: true });
    expect(tb.stats.framesLate).toBe(1); // frame 100
    expect(log[150].target).toBe(3);
    expect(log[150].depth).toBe(1);
    expect(log.slice(199, 204).map((e) => [e.result, e.result === 'audio' ? e.id : '-'])).toEqual([
      ['audio', 199],
      ['concealed', '-'],
      ['concealed', '-'],
      ['audio', 200],
      ['audio', 201],
    ]);
    expect(log.slice(203).every((e) => e.result === 'audio' && e.depth === 3)).toBe(true);
    expect(tb.stats.framesPlayed + tb.depth + tb.stats.framesLate).toBe(260);
  });

  it('caps the depth at the capacity: a frame later than that is not waited for', () => {
    const tb = new TrackBuffer({ capacityFrames: 6 });
    const log = simulate(tb, 300, (seq) => (seq === 100 ? 5 : seq === 200 ? 9 : 0));
    expect(log[110].depth).toBe(6); // 5 ticks late: recovered, 6 frames deep
    expect(Math.max(...log.map((e) => e.depth))).toBe(6);
    expect(Math.max(...log.map((e) => e.target))).toBe(6);
    expect(log.every((e) => e.depth <= 6)).toBe(true);
  });

  it('re-syncs on a sequence reset, starting over at depth 1 with a fresh estimate', () => {
    const tb = new TrackBuffer();
    simulate(tb, 200, (seq) => (seq === 100 ? 3 : 0));
    expect([tb.depthFrames, tb.targetFrames]).toEqual([4, 4]);
    // The sender restarts its seq at 0 (no reset() call): 200 behind the next seq, a new stream.
    const out = new Int16Array(FRAME_SAMPLES);
    tb.push(0, frame(1000));
    expect(tb.pull(out)).toBe('audio');
    expect(out[0]).toBe(1000);
    expect([tb.depthFrames, tb.targetFrames]).toEqual([1, 1]);
    for (let seq = 1; seq < 50; seq++) {
      tb.push(seq, frame(seq + 1));
      expect(tb.pull(out)).toBe('audio');
      expect(out[0]).toBe(seq + 1);
    }
    expect([tb.depthFrames, tb.targetFrames]).toEqual([1, 1]);
  });
});
