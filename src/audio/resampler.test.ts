import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunked, concatSamples, sine, whiteNoise } from '../../test/helpers/signals.js';
import { createResampler, type Resampler } from './resampler.js';

const PAIRS = [
  [8000, 16000],
  [24000, 16000],
  [32000, 16000],
  [48000, 16000],
  [16000, 8000],
  [16000, 24000],
  [16000, 48000],
  [16000, 16000],
] as const;

function streamThrough(r: Resampler, chunks: readonly Int16Array[]): Int16Array {
  const parts = chunks.map((chunk) => {
    const out = new Int16Array(r.maxOutputLength(chunk.length));
    const n = r.process(chunk, out);
    expect(n).toBeLessThanOrEqual(out.length);
    return out.subarray(0, n);
  });
  return concatSamples(parts);
}

describe.each(PAIRS)('resampler %i → %i Hz', (inRate, outRate) => {
  const input = whiteNoise(inRate / 2, -3, inRate + outRate);
  const whole = streamThrough(createResampler(inRate, outRate), [input]);

  it('produces exactly outRate/inRate as many samples', () => {
    expect(whole.length).toBe((input.length * outRate) / inRate);
  });

  it('turns every 20 ms input chunk into exactly one 20 ms output chunk', () => {
    const r = createResampler(inRate, outRate);
    const out = new Int16Array(r.maxOutputLength(inRate / 50));
    for (const chunk of chunked(input, inRate / 50)) expect(r.process(chunk, out)).toBe(outRate / 50);
  });

  it('gives bit-identical output however the input is chunked', () => {
    for (const sizes of [[7], [161], [inRate / 50], [1, 2, 3, 500]]) {
      expect(streamThrough(createResampler(inRate, outRate), chunked(input, sizes))).toEqual(whole);
    }
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 997 }), { minLength: 1, maxLength: 8 }), (sizes) => {
        expect(streamThrough(createResampler(inRate, outRate), chunked(input, sizes))).toEqual(whole);
      }),
      { numRuns: 25 },
    );
  });

  it('starts over after reset', () => {
    const r = createResampler(inRate, outRate);
    streamThrough(r, [whiteNoise(333, -3, 9)]);
    r.reset();
    expect(streamThrough(r, [input])).toEqual(whole);
  });

  it('clips overshoot to the Int16 rails instead of wrapping', () => {
    // A square wave rings ~9 % past its level (Gibbs): at half scale that fits, at full scale it
    // must clip. The filter is linear, so the full-scale output is the half-scale one doubled, clipped.
    const square = (level: number) =>
      sine({ freqHz: 300, sampleRateHz: inRate, length: inRate / 10 }).map((v) => (v >= 0 ? level : -level));
    const half = streamThrough(createResampler(inRate, outRate), [square(16383)]);
    const full = streamThrough(createResampler(inRate, outRate), [square(32766)]);
    for (let i = 0; i < full.length; i++) {
      expect(Math.abs(full[i] - Math.max(-32768, Math.min(32767, 2 * half[i])))).toBeLessThanOrEqual(2);
    }
    if (inRate === outRate) return; // the identity has no filter, hence no overshoot
    expect(Math.max(...full)).toBe(32767);
    expect(Math.min(...full)).toBe(-32768);
  });

  it('writes only what fits when output is too short, and stays in step', () => {
    const r = createResampler(inRate, outRate);
    const chunk = input.subarray(0, inRate / 50);
    expect(r.process(chunk, new Int16Array(5))).toBe(5);
    const rest = streamThrough(r, [input.subarray(chunk.length)]);
    expect(rest).toEqual(whole.subarray(outRate / 50));
  });
});

describe('createResampler', () => {
  it('copies samples unchanged at equal rates', () => {
    const r = createResampler(16000, 16000);
    const input = whiteNoise(320);
    expect(streamThrough(r, [input])).toEqual(input);
    expect(r.design.delayMs).toBe(0);
  });

  it('rejects invalid rates at setup', () => {
    for (const [a, b] of [
      [0, 16000],
      [16000, -1],
      [8000.5, 16000],
      [Number.NaN, 16000],
      [16000, 1_000_000],
    ]) {
      expect(() => createResampler(a, b)).toThrow(RangeError);
    }
  });

  it('shares filter tables between resamplers of the same pair', () => {
    expect(createResampler(8000, 16000).design).toBe(createResampler(8000, 16000).design);
  });
});
