import { describe, expect, it } from 'vitest';
import { besselI0, designKaiserLowpass } from './kaiser-lowpass.js';

function responseDb(h: Float64Array, sampleRateHz: number, freqHz: number): number {
  const w = (2 * Math.PI * freqHz) / sampleRateHz;
  let re = 0;
  let im = 0;
  for (let n = 0; n < h.length; n++) {
    re += h[n] * Math.cos(w * n);
    im -= h[n] * Math.sin(w * n);
  }
  return 20 * Math.log10(Math.hypot(re, im));
}

describe('designKaiserLowpass', () => {
  const spec = { taps: 101, sampleRateHz: 16000, cutoffHz: 3000, beta: 6 };
  const h = designKaiserLowpass(spec);

  it('is symmetric (linear phase) with unit DC gain', () => {
    for (let n = 0; n < h.length; n++) expect(h[n]).toBeCloseTo(h[h.length - 1 - n], 15);
    expect(h.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('passes below the cutoff, is −6 dB at it and ≥ 60 dB down past the transition band', () => {
    expect(Math.abs(responseDb(h, 16000, 1000))).toBeLessThan(0.01);
    expect(responseDb(h, 16000, 3000)).toBeCloseTo(-6.02, 1);
    for (let f = 3700; f <= 8000; f += 25) expect(responseDb(h, 16000, f)).toBeLessThan(-60);
  });

  it('computes I0 to double precision', () => {
    expect(besselI0(0)).toBe(1);
    expect(besselI0(1)).toBeCloseTo(1.2660658777520084, 14);
    expect(besselI0(6)).toBeCloseTo(67.23440697647797, 11);
  });

  it('rejects impossible specs', () => {
    expect(() => designKaiserLowpass({ ...spec, taps: 0 })).toThrow(RangeError);
    expect(() => designKaiserLowpass({ ...spec, cutoffHz: 8000 })).toThrow(RangeError);
  });
});
