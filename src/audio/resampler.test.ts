import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunked, concatSamples, sine, whiteNoise } from '../../test/helpers/signals.js';
import { designKaiserLowpass } from './kaiser-lowpass.js';
import { createResampler, type Resampler, type ResamplerDesign } from './resampler.js';

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

/*
 * Straightforward references for the streaming code, which works in steps, blocks and output pairs
 * for speed: each output is computed on its own from the whole input (zeros before it), with the taps
 * the design comment describes (Kaiser β = 6, unit DC gain per phase), summed in the order the
 * resampler promises, so the two must agree bit for bit however the input is chunked.
 */
const KAISER_BETA = 6;

const clip16 = (v: number) => Math.max(-32768, Math.min(32767, Math.round(v)));
const sampleAt = (x: Int16Array, i: number) => (i >= 0 ? x[i] : 0);

/**
 * 8 → 16 kHz: per input n, the half-band FIR of the window x[n − 2·HALF + 1 … n] folded into HALF
 * multiplies (even taps and odd taps summed apart, from the outer pair inwards), then x[n − HALF + 1].
 */
function halfbandReference(x: Int16Array, design: ResamplerDesign): Int16Array {
  const half = (design.taps + 1) / 4;
  const h = designKaiserLowpass({
    taps: design.taps,
    sampleRateHz: 16000,
    cutoffHz: 4000,
    beta: KAISER_BETA,
  });
  const centre = (design.taps - 1) / 2;
  const g: number[] = [];
  let sum = 0;
  for (let j = 0; j < half; j++) sum += 2 * (g[j] = h[centre + 2 * (half - 1 - j) + 1]);
  for (let j = 0; j < half; j++) g[j] /= sum;
  const y = new Int16Array(2 * x.length);
  for (let n = 0; n < x.length; n++) {
    const first = n - 2 * half + 1;
    let even = 0;
    let odd = 0;
    for (let j = 0; j < half; j += 2) {
      even += g[j] * (sampleAt(x, first + j) + sampleAt(x, n - j));
      odd += g[j + 1] * (sampleAt(x, first + j + 1) + sampleAt(x, n - j - 1));
    }
    y[2 * n] = clip16(even + odd);
    y[2 * n + 1] = sampleAt(x, n - half + 1);
  }
  return y;
}

/**
 * Polyphase L/M: output t lies at t·M on the L× rate grid, so it is phase (t·M) mod L of the window
 * ending at input ⌊t·M / L⌋. Each phase's taps are padded in front with zeros to a multiple of 4 and
 * summed with four accumulators (tap j into accumulator j mod 4), then (a0 + a1) + (a2 + a3).
 */
function polyphaseReference(x: Int16Array, inRateHz: number, design: ResamplerDesign): Int16Array {
  const { phases: L, decimation: M, taps, tapsPerPhase: K, cutoffHz } = design;
  const h = designKaiserLowpass({ taps, sampleRateHz: inRateHz * L, cutoffHz, beta: KAISER_BETA });
  const stride = Math.ceil(K / 4) * 4;
  const phaseTaps: number[][] = [];
  for (let p = 0; p < L; p++) {
    const c: number[] = new Array(stride).fill(0);
    let sum = 0;
    for (let j = 0; j < K; j++) sum += c[stride - K + j] = h[p + (K - 1 - j) * L];
    phaseTaps.push(c.map((v) => v / sum));
  }
  const y = new Int16Array(Math.ceil((x.length * L) / M));
  for (let t = 0; t < y.length; t++) {
    const newest = Math.floor((t * M) / L);
    const c = phaseTaps[(t * M) % L];
    const acc = [0, 0, 0, 0];
    for (let j = 0; j < stride; j++) acc[j % 4] += c[j] * sampleAt(x, newest - stride + 1 + j);
    y[t] = clip16(acc[0] + acc[1] + (acc[2] + acc[3]));
  }
  return y;
}

describe.each(PAIRS.filter(([inRate, outRate]) => inRate !== outRate))(
  'resampler %i → %i Hz against a direct reference',
  (inRate, outRate) => {
    // 250 ms of full-scale noise: some outputs clip.
    const input = whiteNoise(inRate / 4, 0, inRate + 3 * outRate);
    const { design } = createResampler(inRate, outRate);
    const expected =
      inRate === 8000 && outRate === 16000
        ? halfbandReference(input, design)
        : polyphaseReference(input, inRate, design);

    /** Streams `input` in chunks of the given sizes (cycled), each call given `roomPercent` of maxOutputLength. */
    function checkAgainstReference(sizes: readonly number[], roomPercent: readonly number[]): void {
      const r = createResampler(inRate, outRate);
      let consumed = 0;
      let position = 0; // outputs of the stream so far, written or not
      chunked(input, sizes).forEach((chunk, k) => {
        consumed += chunk.length;
        const total = Math.ceil((consumed * design.phases) / design.decimation);
        const out = new Int16Array(
          Math.floor((r.maxOutputLength(chunk.length) * roomPercent[k % roomPercent.length]) / 100),
        );
        const n = r.process(chunk, out);
        expect(n).toBe(Math.min(total - position, out.length));
        expect(out.subarray(0, n)).toEqual(expected.subarray(position, position + n));
        position = total;
      });
      expect(position).toBe(expected.length);
    }

    it('matches it for any chunking, whole and short outputs alike', () => {
      checkAgainstReference([input.length], [100]);
      checkAgainstReference([inRate / 50], [100]);
      checkAgainstReference([1, 7, 8, 9, 1500], [100, 100, 50, 100, 0]);
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 12 }),
          fc.array(fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 100 })), {
            minLength: 1,
            maxLength: 5,
          }),
          checkAgainstReference,
        ),
        { numRuns: 25 },
      );
    });
  },
);
