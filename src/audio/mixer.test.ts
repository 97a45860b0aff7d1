import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mixMono, mixStereo } from './mixer.js';

const N = 320;
const filled = (v: number, n = N) => new Int16Array(n).fill(v);
const frame = fc
  .array(fc.integer({ min: -32768, max: 32767 }), { minLength: N, maxLength: N })
  .map((a) => Int16Array.from(a));
const clip = (v: number) => Math.max(-32768, Math.min(32767, v));

describe('mixMono', () => {
  it('writes silence for zero inputs', () => {
    const out = filled(123);
    mixMono([filled(1000)], 0, out);
    expect(out).toEqual(filled(0));
    mixMono([], 5, out);
    expect(out).toEqual(filled(0));
  });

  it('clips two full-scale inputs to each rail instead of wrapping', () => {
    const out = new Int16Array(N);
    mixMono([filled(32767), filled(32767)], 2, out);
    expect(out).toEqual(filled(32767));
    mixMono([filled(-32768), filled(-32768), filled(-32768)], 3, out);
    expect(out).toEqual(filled(-32768));
  });

  it('is the exact sum for small signals (linear)', () => {
    const small = fc
      .array(fc.integer({ min: -8000, max: 8000 }), { minLength: N, maxLength: N })
      .map((a) => Int16Array.from(a));
    fc.assert(
      fc.property(small, small, small, (a, b, c) => {
        const out = new Int16Array(N);
        mixMono([a, b, c], 3, out);
        for (let i = 0; i < N; i++) expect(out[i]).toBe(a[i] + b[i] + c[i]);
      }),
      { numRuns: 50 },
    );
  });

  it('equals the clipped sum for any number of inputs', () => {
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 6 }), fc.nat({ max: 6 }), (inputs, count) => {
        const out = new Int16Array(N);
        mixMono(inputs, count, out);
        const used = inputs.slice(0, count);
        for (let i = 0; i < N; i++) expect(out[i]).toBe(clip(used.reduce((s, x) => s + x[i], 0)));
      }),
      { numRuns: 100 },
    );
  });

  it('treats a short input as silence past its end', () => {
    const out = new Int16Array(4);
    mixMono([Int16Array.of(1, 2), Int16Array.of(10, 10, 10, 10)], 2, out);
    expect([...out]).toEqual([11, 12, 10, 10]);
    mixMono([Int16Array.of(5)], 1, out);
    expect([...out]).toEqual([5, 0, 0, 0]);
  });
});

describe('mixStereo', () => {
  it('puts the first input left and the clipped sum of the others right', () => {
    const out = new Int16Array(2 * N);
    mixStereo([filled(100), filled(30000), filled(30000), filled(-5)], 4, out);
    for (let i = 0; i < N; i++) {
      expect(out[2 * i]).toBe(100);
      expect(out[2 * i + 1]).toBe(32767);
    }
  });

  it('is silent right with one input and silent both sides with none', () => {
    const out = new Int16Array(2 * N).fill(7);
    mixStereo([filled(-32768)], 1, out);
    for (let i = 0; i < N; i++) expect([out[2 * i], out[2 * i + 1]]).toEqual([-32768, 0]);
    mixStereo([], 0, out);
    expect(out).toEqual(new Int16Array(2 * N));
  });
});
