/**
 * Spectrum measurement for tests: tone levels (DTFT at one frequency), a windowed magnitude
 * spectrum (radix-2 FFT) and peak picking. Levels are dBFS of a sinusoid's *peak* amplitude
 * relative to 32768, so a full-scale sine reads ≈ 0 dB and a tone made by `signals.ts` at −6 dBFS
 * reads −6 dB. The default Blackman-Harris window (4-term, sidelobes −92 dB, main lobe ±4 bins)
 * keeps a strong tone's leakage far below the −60 dB figures the audio tests check.
 */

export type WindowKind = 'rectangular' | 'hann' | 'blackman-harris';

export interface SpectrumOptions {
  /** Default 'blackman-harris'. */
  readonly window?: WindowKind;
}

/** The floor reported for silence instead of −Infinity. */
const SILENCE_DB = -200;
const FULL_SCALE = 32768;
const windowCache = new Map<string, Float64Array>();

/** Window coefficients (cached by kind and length). */
function windowCoefficients(length: number, kind: WindowKind = 'blackman-harris'): Float64Array {
  const key = `${kind}:${length}`;
  let w = windowCache.get(key);
  if (w) return w;
  w = new Float64Array(length);
  for (let n = 0; n < length; n++) {
    const x = (2 * Math.PI * n) / Math.max(1, length - 1);
    if (kind === 'rectangular') w[n] = 1;
    else if (kind === 'hann') w[n] = 0.5 - 0.5 * Math.cos(x);
    else w[n] = 0.35875 - 0.48829 * Math.cos(x) + 0.14128 * Math.cos(2 * x) - 0.01168 * Math.cos(3 * x);
  }
  windowCache.set(key, w);
  return w;
}

function toDb(amplitude: number): number {
  return amplitude > 0 ? Math.max(SILENCE_DB, 20 * Math.log10(amplitude / FULL_SCALE)) : SILENCE_DB;
}

export interface ToneMeasurement {
  /** Peak level in dBFS. */
  readonly levelDb: number;
  /** Phase of the cosine component at sample 0, radians. */
  readonly phaseRad: number;
}

/** Level and phase of the component at exactly `freqHz` (windowed DTFT, any frequency). */
export function measureTone(
  samples: ArrayLike<number>,
  sampleRateHz: number,
  freqHz: number,
  options: SpectrumOptions = {},
): ToneMeasurement {
  const w = windowCoefficients(samples.length, options.window);
  const omega = (2 * Math.PI * freqHz) / sampleRateHz;
  let re = 0;
  let im = 0;
  let sumW = 0;
  for (let n = 0; n < samples.length; n++) {
    const v = samples[n] * w[n];
    re += v * Math.cos(omega * n);
    im -= v * Math.sin(omega * n);
    sumW += w[n];
  }
  // A real sinusoid splits its energy between ±f, except at DC and Nyquist.
  const scale = freqHz === 0 || freqHz * 2 === sampleRateHz ? 1 : 2;
  return { levelDb: toDb((scale * Math.hypot(re, im)) / sumW), phaseRad: Math.atan2(im, re) };
}

/** Peak level in dBFS of the component at `freqHz`. */
export function toneLevelDb(
  samples: ArrayLike<number>,
  sampleRateHz: number,
  freqHz: number,
  options: SpectrumOptions = {},
): number {
  return measureTone(samples, sampleRateHz, freqHz, options).levelDb;
}

/** RMS level in dB relative to a full-scale sine (AES17: a 0 dBFS sine reads 0 dB). */
export function rmsDbfs(samples: ArrayLike<number>): number {
  let acc = 0;
  for (let i = 0; i < samples.length; i++) acc += samples[i] * samples[i];
  return samples.length === 0 ? SILENCE_DB : toDb(Math.sqrt((2 * acc) / samples.length));
}

export interface MagnitudeSpectrum {
  /** Frequency step between bins, Hz; bin k is at `k * binHz`. */
  readonly binHz: number;
  /** Per-bin level in dBFS (a tone centred on a bin reads its peak level); length fftSize/2 + 1. */
  readonly levelsDb: Float64Array;
}

/** Windowed magnitude spectrum; the signal is zero-padded to the next power of two. */
export function magnitudeSpectrum(
  samples: ArrayLike<number>,
  sampleRateHz: number,
  options: SpectrumOptions = {},
): MagnitudeSpectrum {
  let size = 1;
  while (size < samples.length) size *= 2;
  const w = windowCoefficients(samples.length, options.window);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  let sumW = 0;
  for (let n = 0; n < samples.length; n++) {
    re[n] = samples[n] * w[n];
    sumW += w[n];
  }
  fft(re, im);
  const levelsDb = new Float64Array(size / 2 + 1);
  for (let k = 0; k < levelsDb.length; k++) {
    const scale = k === 0 || k === size / 2 ? 1 : 2;
    levelsDb[k] = toDb((scale * Math.hypot(re[k], im[k])) / sumW);
  }
  return { binHz: sampleRateHz / size, levelsDb };
}

/** In-place iterative radix-2 FFT; `re.length` must be a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len *= 2) {
    const angle = (-2 * Math.PI) / len;
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(angle * k);
        const wi = Math.sin(angle * k);
        const a = start + k;
        const b = a + len / 2;
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

export interface SpectralPeak {
  readonly freqHz: number;
  /** Peak level in dBFS, measured by DTFT at the refined frequency. */
  readonly levelDb: number;
}

export interface PeakOptions extends SpectrumOptions {
  /** Ignore peaks below this level (dBFS); default −60. */
  readonly minLevelDb?: number;
  /** Return at most this many peaks; default 16. */
  readonly maxCount?: number;
}

/** Half-width (Hz) of the window's main lobe: a tone's energy stays within ± this of it. */
function mainLobeHz(length: number, sampleRateHz: number, kind: WindowKind = 'blackman-harris'): number {
  const bins = kind === 'blackman-harris' ? 4 : kind === 'hann' ? 2 : 1;
  return (bins * sampleRateHz) / Math.max(1, length);
}

/**
 * The strongest tones in a signal, loudest first: local maxima of the windowed spectrum above
 * `minLevelDb`, at least one main lobe apart, with frequency refined by parabolic interpolation and
 * level re-measured there (so a tone between bins still reads its true level to ~0.1 dB).
 */
export function dominantFrequencies(
  samples: ArrayLike<number>,
  sampleRateHz: number,
  options: PeakOptions = {},
): SpectralPeak[] {
  const { binHz, levelsDb } = magnitudeSpectrum(samples, sampleRateHz, options);
  const minLevelDb = options.minLevelDb ?? -60;
  const lobe = Math.ceil(mainLobeHz(samples.length, sampleRateHz, options.window) / binHz);
  const candidates: number[] = [];
  for (let k = 0; k < levelsDb.length; k++) {
    if (levelsDb[k] < minLevelDb - 1) continue;
    let isMax = true;
    for (let d = -lobe; d <= lobe && isMax; d++) {
      const j = k + d;
      if (
        d !== 0 &&
        j >= 0 &&
        j < levelsDb.length &&
        (levelsDb[j] > levelsDb[k] || (levelsDb[j] === levelsDb[k] && j < k))
      )
        isMax = false;
    }
    if (isMax) candidates.push(k);
  }
  const peaks = candidates.map((k) => {
    const a = levelsDb[k - 1] ?? levelsDb[k];
    const b = levelsDb[k];
    const c = levelsDb[k + 1] ?? levelsDb[k];
    const denom = a - 2 * b + c;
    const delta = denom === 0 ? 0 : Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom));
    const freqHz = Math.max(0, Math.min(sampleRateHz / 2, (k + delta) * binHz));
    return { freqHz, levelDb: toneLevelDb(samples, sampleRateHz, freqHz, options) };
  });
  return peaks
    .filter((p) => p.levelDb >= minLevelDb)
    .sort((p, q) => q.levelDb - p.levelDb)
    .slice(0, options.maxCount ?? 16);
}

/**
 * The loudest spectrum bin (dBFS) farther than `guardHz` from every frequency in `excludeHz`:
 * "nothing else above X dB" checks. The default guard covers the window's main lobe.
 */
export function maxLevelExcludingDb(
  samples: ArrayLike<number>,
  sampleRateHz: number,
  excludeHz: readonly number[],
  options: SpectrumOptions & { readonly guardHz?: number } = {},
): number {
  const { binHz, levelsDb } = magnitudeSpectrum(samples, sampleRateHz, options);
  const guardHz = options.guardHz ?? mainLobeHz(samples.length, sampleRateHz, options.window) + binHz;
  let max = SILENCE_DB;
  for (let k = 0; k < levelsDb.length; k++) {
    const f = k * binHz;
    if (excludeHz.some((x) => Math.abs(f - x) <= guardHz)) continue;
    if (levelsDb[k] > max) max = levelsDb[k];
  }
  return max;
}
