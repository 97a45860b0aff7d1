import { describe, expect, it } from 'vitest';
import { chunked, concatSamples, sine, sumSignals, whiteNoise } from './signals.js';
import {
  dominantFrequencies,
  magnitudeSpectrum,
  maxLevelExcludingDb,
  rmsDbfs,
  toneLevelDb,
} from './spectrum.js';

const RATE = 16000;

describe('spectrum helpers', () => {
  it('reads a tone at its generated level, on or between bins', () => {
    for (const freqHz of [440, 1000, 1234.5, 7000]) {
      const s = sine({ freqHz, sampleRateHz: RATE, length: 8000, amplitudeDbfs: -6 });
      expect(toneLevelDb(s, RATE, freqHz)).toBeCloseTo(-6, 1);
    }
    const full = sine({ freqHz: 1000, sampleRateHz: RATE, length: 4000, amplitudeDbfs: 0 });
    expect(toneLevelDb(full, RATE, 1000)).toBeCloseTo(0, 1);
  });

  it('sees far less than −90 dB of a strong tone away from its main lobe', () => {
    const s = sine({ freqHz: 1000, sampleRateHz: RATE, length: 8000, amplitudeDbfs: 0 });
    expect(toneLevelDb(s, RATE, 1100)).toBeLessThan(-90);
    expect(maxLevelExcludingDb(s, RATE, [1000])).toBeLessThan(-90);
  });

  it('finds two tones at the right frequencies and levels and nothing else', () => {
    const a = sine({ freqHz: 440, sampleRateHz: RATE, length: 16000, amplitudeDbfs: -12 });
    const b = sine({ freqHz: 1333, sampleRateHz: RATE, length: 16000, amplitudeDbfs: -20 });
    const peaks = dominantFrequencies(sumSignals(a, b), RATE, { minLevelDb: -40 });
    expect(peaks).toHaveLength(2);
    expect(peaks[0].freqHz).toBeCloseTo(440, 0);
    expect(peaks[0].levelDb).toBeCloseTo(-12, 1);
    expect(peaks[1].freqHz).toBeCloseTo(1333, 0);
    expect(peaks[1].levelDb).toBeCloseTo(-20, 1);
  });

  it('reports the spectrum per bin with the right resolution', () => {
    const { binHz, levelsDb } = magnitudeSpectrum(new Int16Array(1000), RATE);
    expect(binHz).toBe(RATE / 1024);
    expect(levelsDb).toHaveLength(513);
  });

  it('measures RMS against a full-scale sine', () => {
    expect(rmsDbfs(sine({ freqHz: 1000, sampleRateHz: RATE, length: 1600, amplitudeDbfs: -6 }))).toBeCloseTo(
      -6,
      1,
    );
    expect(rmsDbfs(new Int16Array(10))).toBe(-200);
  });

  it('generates reproducible noise and splits signals into views that rejoin exactly', () => {
    expect(whiteNoise(100, -20, 7)).toEqual(whiteNoise(100, -20, 7));
    const s = whiteNoise(1000);
    const parts = chunked(s, [7, 161]);
    expect(parts.slice(0, 2).map((p) => p.length)).toEqual([7, 161]);
    expect(concatSamples(parts)).toEqual(s);
  });
});
