/**
 * Windowed-sinc low-pass FIR design (Kaiser window). Used once per rate pair by the resampler;
 * not on the per-frame path.
 */

export interface KaiserLowpassSpec {
  /** Number of taps (≥ 1). Linear phase: group delay is `(taps - 1) / 2` samples. */
  readonly taps: number;
  /** Sample rate the filter runs at, Hz. */
  readonly sampleRateHz: number;
  /** −6 dB point of the response, Hz (0 < cutoffHz < sampleRateHz / 2). */
  readonly cutoffHz: number;
  /** Kaiser β: larger trades a wider transition band for deeper stopband (6 ≈ −63 dB sidelobes). */
  readonly beta: number;
}

/** Zeroth-order modified Bessel function of the first kind, by its power series. */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 64; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/**
 * Designs a linear-phase low-pass FIR: ideal sinc at `cutoffHz` times a Kaiser window, scaled to a
 * DC gain of exactly 1 (the coefficients sum to 1).
 */
export function designKaiserLowpass(spec: KaiserLowpassSpec): Float64Array {
  const { taps, sampleRateHz, cutoffHz, beta } = spec;
  if (!Number.isInteger(taps) || taps < 1)
    throw new RangeError(`taps must be a positive integer, got ${taps}`);
  if (!(cutoffHz > 0 && cutoffHz < sampleRateHz / 2))
    throw new RangeError(`cutoffHz out of range: ${cutoffHz}`);
  const h = new Float64Array(taps);
  const center = (taps - 1) / 2;
  const fc = cutoffHz / sampleRateHz; // cycles per sample
  const i0Beta = besselI0(beta);
  let sum = 0;
  for (let n = 0; n < taps; n++) {
    const x = n - center;
    const sinc = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
    const r = center === 0 ? 0 : x / center;
    h[n] = (sinc * besselI0(beta * Math.sqrt(Math.max(0, 1 - r * r)))) / i0Beta;
    sum += h[n];
  }
  for (let n = 0; n < taps; n++) h[n] /= sum;
  return h;
}
