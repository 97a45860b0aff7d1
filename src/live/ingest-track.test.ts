import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import { FRAME_SAMPLES, type TrackFrame } from '../domain/audio-format.js';
import { Metrics } from '../observability/metrics.js';
import { IngestTrack, publishingTrack } from './ingest-track.js';

/** A 1 kHz-ish ramp of distinct values, so frames can be told apart and compared. */
function signal(length: number, from = 0): Int16Array {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.round(8000 * Math.sin((2 * Math.PI * (from + i)) / 37));
  return out;
}

function track(rateHz: number): { track: IngestTrack; frames: { seq: number; samples: Int16Array }[] } {
  const frames: { seq: number; samples: Int16Array }[] = [];
  const t = new IngestTrack(
    'call',
    'caller',
    { encoding: 'pcm16be', sampleRateHz: rateHz, platform: 'rtp' },
    (f: TrackFrame) => frames.push({ seq: f.seq, samples: f.samples.slice() }),
  );
  return { track: t, frames };
}

describe('IngestTrack.writeAt (RTP: packets placed by their timestamps)', () => {
  it('in order, it is write(): 20 ms packets at 8 kHz are one frame each, numbered from 0', () => {
    const placed = track(8000);
    const plain = track(8000);
    const audio = signal(160 * 10);
    for (let k = 0; k < 10; k++) {
      placed.track.writeAt(160 * k, audio.subarray(160 * k, 160 * (k + 1)));
      plain.track.write(audio.subarray(160 * k, 160 * (k + 1)));
    }
    expect(placed.frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(placed.frames).toEqual(plain.frames);
  });

  it('a gap leaves the missing frames unsent (the jitter buffer conceals them), the next numbered by its place', () => {
    const { track: t, frames } = track(16000);
    const audio = signal(320 * 6);
    for (const k of [0, 1, 4, 5]) t.writeAt(320 * k, audio.subarray(320 * k, 320 * (k + 1)));
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 4, 5]);
    expect(frames[2].samples).toEqual(audio.subarray(320 * 4, 320 * 5));
  });

  it('a late packet fills its own slot, and the in-order stream goes on unchanged', () => {
    const inOrder = track(16000);
    const reordered = track(16000);
    const audio = signal(320 * 5);
    const packet = (k: number) => audio.subarray(320 * k, 320 * (k + 1));
    for (const k of [0, 1, 2, 3, 4]) inOrder.track.writeAt(320 * k, packet(k));
    for (const k of [0, 2, 1, 3, 4]) reordered.track.writeAt(320 * k, packet(k));
    expect(reordered.frames.map((f) => f.seq)).toEqual([0, 2, 1, 3, 4]);
    const bySeq = (frames: { seq: number; samples: Int16Array }[]) =>
      [...frames].sort((a, b) => a.seq - b.seq).map((f) => f.samples);
    // At 16 kHz there is no resampler: bit-identical.
    expect(bySeq(reordered.frames)).toEqual(bySeq(inOrder.frames));
  });

  it('at 8 kHz a late packet is resampled on its own: the same frame but for the filter starting from silence (< 4 ms)', () => {
    const inOrder = track(8000);
    const reordered = track(8000);
    const audio = signal(160 * 5);
    const packet = (k: number) => audio.subarray(160 * k, 160 * (k + 1));
    for (const k of [0, 1, 2, 3, 4]) inOrder.track.writeAt(160 * k, packet(k));
    for (const k of [0, 1, 3, 2, 4]) reordered.track.writeAt(160 * k, packet(k));
    const late = reordered.frames.find((f) => f.seq === 2)?.samples as Int16Array;
    const expected = inOrder.frames.find((f) => f.seq === 2)?.samples as Int16Array;
    expect(late.length).toBe(FRAME_SAMPLES);
    // Past the half-band filter's length (44 taps at 16 kHz, and the delay) the two agree.
    for (let i = 0; i < 56; i++) expect(Math.abs(late[i] - expected[i])).toBeLessThan(8000);
    for (let i = 56; i < FRAME_SAMPLES; i++) expect(Math.abs(late[i] - expected[i])).toBeLessThanOrEqual(1);
  });

  it('packets that are not 20 ms (ffmpeg: 128 ms) make whole frames; a gap sends the partial frame with silence after it', () => {
    const { track: t, frames } = track(8000);
    const audio = signal(1024 * 3);
    t.writeAt(0, audio.subarray(0, 1024));
    // 1024 samples at 8 kHz = 6.4 frames: 6 sent, 0.4 waiting.
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5]);
    t.writeAt(2048, audio.subarray(2048, 3072));
    // The partial frame 6 went out, its tail silent; frames 7 … 11 are missing (the jitter buffer
    // conceals them); 12 starts silent and ends with the packet's first 0.2 frame; 13 … 18 follow.
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 12, 13, 14, 15, 16, 17, 18]);
    const tail = Math.round(0.4 * FRAME_SAMPLES);
    expect(frames[6].samples.subarray(tail).every((v) => v === 0)).toBe(true);
    expect(frames[6].samples.subarray(0, tail).some((v) => v !== 0)).toBe(true);
    const head = Math.round(0.8 * FRAME_SAMPLES);
    expect(frames[7].samples.subarray(0, head).every((v) => v === 0)).toBe(true);
    expect(frames[7].samples.subarray(head).some((v) => v !== 0)).toBe(true);
  });

  it('ignores writes after it is disconnected, and positions that are not whole non-negative numbers', () => {
    const { track: t, frames } = track(16000);
    t.writeAt(-320, signal(320));
    t.writeAt(Number.NaN, signal(320));
    t.writeAt(0.5, signal(320));
    expect(frames).toEqual([]);
    t.connected = false;
    t.writeAt(0, signal(320));
    expect(frames).toEqual([]);
  });
});

describe('IngestTrack while nobody takes its frames', () => {
  function lazyTrack(rateHz: number) {
    const frames: { seq: number; samples: Int16Array }[] = [];
    const state = { wanted: false, skipped: 0 };
    const t = new IngestTrack(
      'call',
      'caller',
      { encoding: 'pcm16', sampleRateHz: rateHz },
      (f: TrackFrame) => frames.push({ seq: f.seq, samples: f.samples.slice() }),
      '',
      { wanted: () => state.wanted, onSkipped: () => state.skipped++ },
    );
    return { track: t, frames, state };
  }

  it('makes no frame, counts the ones that go by, and resumes with the same numbering', () => {
    const { track: t, frames, state } = lazyTrack(8000);
    const tone = signal(160 * 20);
    for (let k = 0; k < 10; k++) t.write(tone.subarray(160 * k, 160 * (k + 1)));
    expect(frames).toEqual([]);
    expect(state.skipped).toBe(10);
    expect(t.framesIn).toBe(10);
    state.wanted = true;
    for (let k = 10; k < 20; k++) t.write(tone.subarray(160 * k, 160 * (k + 1)));
    expect(frames.map((f) => f.seq)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(t.framesIn).toBe(20);
    // Resampled afresh: after the half-band filter's first few ms, the tone as a track that never
    // skipped makes it.
    const fresh: Int16Array[] = [];
    const reference = new IngestTrack('call', 'caller', { encoding: 'pcm16', sampleRateHz: 8000 }, (f) =>
      fresh.push(f.samples.slice()),
    );
    for (let k = 10; k < 20; k++) reference.write(tone.subarray(160 * k, 160 * (k + 1)));
    expect(frames.slice(2).map((f) => f.samples)).toEqual(fresh.slice(2));
  });

  it('keeps the frame boundaries across any chunking: what went by of the current frame is silent', () => {
    const { track: t, frames, state } = lazyTrack(16000);
    const audio = signal(320 * 4);
    t.write(audio.subarray(0, 500)); // one frame and 180 samples go by
    state.wanted = true;
    t.write(audio.subarray(500, 640));
    expect(frames).toHaveLength(1);
    expect(frames[0].seq).toBe(1);
    expect(Array.from(frames[0].samples.subarray(0, 180)).every((v) => v === 0)).toBe(true);
    expect(frames[0].samples.subarray(180)).toEqual(audio.subarray(500, 640));
  });

  it('skip(n) is write() of n samples nobody decoded: the same frames counted, the same numbering after', () => {
    const { track: t, frames, state } = lazyTrack(8000);
    const { track: written, state: writtenState } = lazyTrack(8000);
    const tone = signal(160 * 20);
    expect(t.wanted).toBe(false);
    for (const n of [160, 100, 220, 160, 160, 800]) {
      t.skip(n);
      written.write(tone.subarray(0, n));
    }
    expect(frames).toEqual([]);
    expect(t.framesIn).toBe(written.framesIn);
    expect(state.skipped).toBe(writtenState.skipped);
    state.wanted = true;
    expect(t.wanted).toBe(true);
    t.write(tone.subarray(0, 320));
    expect(frames.map((f) => f.seq)).toEqual([10, 11]);
    // Someone listens after all: what was not decoded is written as silence (after the half-band
    // filter's tail of the tone before it, < 4 ms).
    t.skip(160);
    expect(frames.at(-1)?.seq).toBe(12);
    expect(Array.from(frames.at(-1)?.samples.subarray(64) ?? [1]).every((v) => v === 0)).toBe(true);
    // A disconnected track takes nothing.
    t.connected = false;
    t.skip(160);
    expect(t.framesIn).toBe(13);
  });

  it('RTP: a late packet while nobody listens is neither made nor counted; in-order ones are counted', () => {
    const { track: t, frames, state } = lazyTrack(8000);
    const audio = signal(160 * 6);
    for (const k of [0, 1, 3, 4]) t.writeAt(160 * k, audio.subarray(160 * k, 160 * (k + 1)));
    t.writeAt(160 * 2, audio.subarray(320, 480)); // late: fills the gap
    expect(frames).toEqual([]);
    expect(state.skipped).toBe(4);
    state.wanted = true;
    t.writeAt(160 * 5, audio.subarray(800, 960));
    expect(frames.map((f) => f.seq)).toEqual([5]);
  });

  it('publishingTrack asks the bus: nothing is published for a call without a subscriber, every frame counted', async () => {
    const bus = new MemoryBus();
    const metrics = new Metrics();
    let published = 0;
    const publish = bus.publishFrame.bind(bus);
    bus.publishFrame = (f) => {
      published++;
      publish(f);
    };
    const t = publishingTrack(
      { bus, metrics },
      'call-1',
      'caller',
      { encoding: 'mulaw', sampleRateHz: 8000, platform: 'generic' },
      'c',
    );
    const chunk = signal(160);
    for (let k = 0; k < 5; k++) t.write(chunk);
    expect(published).toBe(0);
    const heard: number[] = [];
    const off = bus.subscribeFrames('call-1', (f) => heard.push(f.seq));
    for (let k = 0; k < 5; k++) t.write(chunk);
    off();
    t.write(chunk);
    expect(published).toBe(5);
    expect(heard).toEqual([5, 6, 7, 8, 9]);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/earshot_frames_in_total 11\b/);
  });
});
