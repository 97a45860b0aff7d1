import { describe, expect, it } from 'vitest';
import type { TrackFrame } from '../domain/audio-format.js';
import {
  createScratchFrame,
  decodeTrackFrame,
  encodeTrackFrame,
  TRACK_FRAME_VERSION,
} from './track-frame-codec.js';

function frame(participant: string, seq = 42): TrackFrame {
  const samples = new Int16Array(320);
  for (let i = 0; i < samples.length; i++) samples[i] = ((i * 2731) % 65536) - 32768;
  return { callPk: 'pk', participant, seq, captureTimeMs: 1_712_345_678_901.25, samples };
}

function roundTrip(f: TrackFrame, data = encodeTrackFrame(f)) {
  const into = createScratchFrame(f.callPk);
  expect(decodeTrackFrame(data, into)).toBe(true);
  return into;
}

describe('track frame codec (v1)', () => {
  it('round-trips seq, capture time, participant and every sample, in 16 + name + 640 bytes', () => {
    const f = frame('caller');
    const data = encodeTrackFrame(f);
    expect(data.length).toBe(16 + 6 + 640);
    expect(data[0]).toBe(TRACK_FRAME_VERSION);
    const back = roundTrip(f, data);
    expect(back.seq).toBe(42);
    expect(back.captureTimeMs).toBe(f.captureTimeMs);
    expect(back.participant).toBe('caller');
    expect(Array.from(back.samples)).toEqual(Array.from(f.samples));
  });

  it('carries names that a NATS subject could not (dots, non-ASCII) and the extremes of the sample range', () => {
    const f = frame('agent.v2.ünï');
    f.samples[0] = -32768;
    f.samples[1] = 32767;
    const back = roundTrip(f);
    expect(back.participant).toBe('agent.v2.ünï');
    expect(back.samples[0]).toBe(-32768);
    expect(back.samples[1]).toBe(32767);
  });

  it('wraps seq at 2^32 and encodes from a view at an odd-free offset of a larger buffer', () => {
    const big = new Int16Array(1000);
    const view = big.subarray(3, 323);
    view.fill(-7);
    const back = roundTrip({
      callPk: 'pk',
      participant: 'p',
      seq: 2 ** 32 + 5,
      captureTimeMs: 0,
      samples: view,
    });
    expect(back.seq).toBe(5);
    expect(Array.from(back.samples)).toEqual(new Array(320).fill(-7));
  });

  it('decodes a payload that sits at an odd byte offset (as in a socket read buffer)', () => {
    const data = encodeTrackFrame(frame('caller'));
    const shifted = new Uint8Array(data.length + 1);
    shifted.set(data, 1);
    expect(Array.from(roundTrip(frame('caller'), shifted.subarray(1)).samples)).toEqual(
      Array.from(frame('caller').samples),
    );
  });

  it('refuses garbage without throwing: short, wrong version, wrong count, truncated, trailing bytes, bad time, empty name', () => {
    const good = encodeTrackFrame(frame('caller'));
    const into = createScratchFrame('pk');
    const variants: Uint8Array[] = [
      new Uint8Array(0),
      good.subarray(0, 10),
      Uint8Array.from([2, ...good.subarray(1)]),
      (() => {
        const b = Buffer.from(good);
        b.writeUInt16LE(160, 2);
        return b;
      })(),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.alloc(2)]),
      (() => {
        const b = Buffer.from(good);
        b.writeDoubleLE(Number.NaN, 8);
        return b;
      })(),
      (() => {
        const b = Buffer.from(good);
        b[1] = 0;
        return b;
      })(),
      new TextEncoder().encode('{"type":"ended"}'),
    ];
    for (const v of variants) expect(decodeTrackFrame(v, into)).toBe(false);
  });

  it('refuses to encode an empty or over-long participant name', () => {
    expect(() => encodeTrackFrame(frame(''))).toThrow(RangeError);
    expect(() => encodeTrackFrame(frame('x'.repeat(256)))).toThrow(RangeError);
  });
});
