import { describe, expect, it } from 'vitest';
import { sine } from '../../test/helpers/signals.js';
import { measureTone, rmsDbfs, toneLevelDb } from '../../test/helpers/spectrum.js';
import { createResampler, type Resampler } from './resampler.js';

/** Every conversion earshot uses: ingest rates → 16 kHz, 16 kHz → listener rates. */
const PAIRS = [
  [8000, 16000],
  [24000, 16000],
  [32000, 16000],
  [48000, 16000],
  [16000, 8000],
  [16000, 24000],
  [16000, 48000],
] as const;

const LEVEL_DB = -1;
const SECONDS = 0.25;
/** Long enough for the filter to fill (≤ 3 ms) with margin; measurements start after it. */
const SETTLE_MS = 20;

function convert(r: Resampler, input: Int16Array): Int16Array {
  const out = new Int16Array(r.maxOutputLength(input.length));
  return out.subarray(0, r.process(input, out));
}

/** The steady-state output for a tone, and the level of `measureHz` in it. */
function toneThrough(inRate: number, outRate: number, freqHz: number, measureHz = freqHz): number {
  const r = createResampler(inRate, outRate);
  const input = sine({ freqHz, sampleRateHz: inRate, length: inRate * SECONDS, amplitudeDbfs: LEVEL_DB });
  const out = convert(r, input).subarray((outRate * SETTLE_MS) / 1000);
  return toneLevelDb(out, outRate, measureHz);
}

/** Where a tone at `freqHz` lands after sampling at `rateHz` (folded into 0…rate/2). */
function aliasOf(freqHz: number, rateHz: number): number {
  const f = freqHz % rateHz;
  return f > rateHz / 2 ? rateHz - f : f;
}

describe.each(PAIRS)('resampler frequency response %i → %i Hz', (inRate, outRate) => {
  const design = createResampler(inRate, outRate).design;

  it('adds at most 2 ms of delay (2.8 ms for 16 → 8 kHz) and says so', () => {
    expect(design.delayMs).toBeLessThanOrEqual(inRate === 16000 && outRate === 8000 ? 2.8 : 2);
  });

  it('is flat within ±1 dB up to 0.85 × the lower Nyquist frequency', () => {
    const edge = 0.85 * (Math.min(inRate, outRate) / 2);
    expect(design.passbandHz).toBeCloseTo(edge);
    for (const f of [50, 300, 1000, 2000, 3000, 0.5 * edge, 0.75 * edge, 0.95 * edge, edge]) {
      expect(Math.abs(toneThrough(inRate, outRate, f) - LEVEL_DB), `${f} Hz`).toBeLessThan(1);
    }
  });

  it('measures the documented group delay', () => {
    const freqHz = 200; // period 5 ms > any delay, so the phase is unambiguous
    const r = createResampler(inRate, outRate);
    const input = sine({ freqHz, sampleRateHz: inRate, length: inRate * SECONDS });
    const output = convert(r, input);
    const from = (rate: number, s: Int16Array) => s.subarray((rate * SETTLE_MS) / 1000);
    const phaseIn = measureTone(from(inRate, input), inRate, freqHz).phaseRad;
    const phaseOut = measureTone(from(outRate, output), outRate, freqHz).phaseRad;
    const lag = (((phaseIn - phaseOut) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
    expect((lag / (2 * Math.PI * freqHz)) * 1000).toBeCloseTo(design.delayMs, 2);
  });

  if (outRate < inRate) {
    it('attenuates every tone above the output Nyquist by ≥ 60 dB', () => {
      const nyquist = outRate / 2;
      const tones = [nyquist, nyquist + 100, nyquist * 1.15, 10000, 15000, inRate / 2 - 200].filter(
        (f) => f >= nyquist && f < inRate / 2,
      );
      for (const f of tones) {
        const r = createResampler(inRate, outRate);
        const input = sine({
          freqHz: f,
          sampleRateHz: inRate,
          length: inRate * SECONDS,
          amplitudeDbfs: LEVEL_DB,
        });
        const out = convert(r, input).subarray((outRate * SETTLE_MS) / 1000);
        expect(toneLevelDb(out, outRate, aliasOf(f, outRate)) - LEVEL_DB, `${f} Hz`).toBeLessThan(-60);
        // RMS dBFS reads a sine 3 dB below its peak level in toneLevelDb terms; compare like with like.
        expect(rmsDbfs(out) - LEVEL_DB, `${f} Hz total`).toBeLessThan(-60);
      }
    });
  } else {
    it('suppresses the images of passband tones by ≥ 50 dB', () => {
      for (const f of [300, 1000, 2000, design.passbandHz]) {
        for (let k = 1; k * inRate - f < outRate / 2; k++) {
          for (const image of [k * inRate - f, k * inRate + f].filter((x) => x < outRate / 2)) {
            expect(toneThrough(inRate, outRate, f, image) - LEVEL_DB, `${f} Hz → ${image} Hz`).toBeLessThan(
              -50,
            );
          }
        }
      }
    });
  }
});
