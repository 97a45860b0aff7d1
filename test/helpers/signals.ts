/**
 * Test signal generators producing PCM16 (`Int16Array`). Levels are in dBFS where 0 dBFS is a
 * peak amplitude of 32768 (the same reference `spectrum.ts` measures against), so a sine made at
 * −6 dBFS measures −6 dBFS there.
 */

const FULL_SCALE = 32768;

/** Peak amplitude (in LSB) of a level in dBFS. */
function dbfsToAmplitude(dbfs: number): number {
  return FULL_SCALE * 10 ** (dbfs / 20);
}

function toInt16(value: number): number {
  const r = Math.round(value);
  return Math.min(32767, Math.max(-32768, r));
}

export interface SineOptions {
  readonly freqHz: number;
  readonly sampleRateHz: number;
  /** Number of samples. */
  readonly length: number;
  /** Peak level; default −6 dBFS. */
  readonly amplitudeDbfs?: number;
  readonly phaseRad?: number;
}

/** A sine tone, rounded and clipped to Int16. */
export function sine(options: SineOptions): Int16Array {
  const amplitude = dbfsToAmplitude(options.amplitudeDbfs ?? -6);
  const w = (2 * Math.PI * options.freqHz) / options.sampleRateHz;
  const phase = options.phaseRad ?? 0;
  const out = new Int16Array(options.length);
  for (let i = 0; i < out.length; i++) out[i] = toInt16(amplitude * Math.sin(w * i + phase));
  return out;
}

/** Sample-wise sum of signals (as long as the longest), clipped to Int16. */
export function sumSignals(...signals: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(Math.max(0, ...signals.map((s) => s.length)));
  for (let i = 0; i < out.length; i++) {
    let acc = 0;
    for (const s of signals) acc += s[i] ?? 0;
    out[i] = toInt16(acc);
  }
  return out;
}

/** Uniform white noise with the given peak level, reproducible from `seed` (mulberry32). */
export function whiteNoise(length: number, amplitudeDbfs = -20, seed = 1): Int16Array {
  const amplitude = dbfsToAmplitude(amplitudeDbfs);
  let state = seed >>> 0;
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = toInt16(amplitude * (2 * u - 1));
  }
  return out;
}

/**
 * Splits a signal into consecutive views (no copies) whose lengths cycle through `sizes`; the last
 * chunk holds whatever remains. Use it to feed streaming code in awkward pieces.
 */
export function chunked(signal: Int16Array, sizes: number | readonly number[]): Int16Array[] {
  const list = typeof sizes === 'number' ? [sizes] : sizes;
  if (list.length === 0 || list.some((n) => !(n > 0))) throw new RangeError('chunk sizes must be > 0');
  const chunks: Int16Array[] = [];
  for (let at = 0, k = 0; at < signal.length; k++) {
    const n = Math.min(list[k % list.length], signal.length - at);
    chunks.push(signal.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/** Concatenates Int16 arrays into a new one. */
export function concatSamples(parts: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
