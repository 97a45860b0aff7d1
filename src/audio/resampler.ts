import { designKaiserLowpass } from './kaiser-lowpass.js';

/**
 * Streaming rational sample-rate conversion (polyphase FIR) for PCM16.
 *
 * Rate pairs reduce to L/M (16 kHz → 48 kHz is 3/1, 24 kHz → 16 kHz is 2/3): the signal is
 * conceptually upsampled by L, low-pass filtered at L × inRateHz, and every M-th sample kept. The
 * filter is split into L phases of `tapsPerPhase` taps so only kept outputs are ever computed.
 *
 * Filter (Kaiser β = 6, linear phase), relative to the lower Nyquist frequency fN = min(in, out)/2:
 * - passband to 0.85 fN, flat within ±0.5 dB (3.4 kHz for pairs with 8 kHz, 6.8 kHz otherwise);
 * - downsampling: stopband from the output Nyquist (≥ 62 dB), so *nothing* above it aliases;
 * - upsampling: stopband from fN, except from 8 kHz (telephone-band G.711, 300–3400 Hz content),
 *   where it starts at the first image of the passband edge (8000 − 3400 = 4.6 kHz). That halves
 *   the filter (44 vs 88 taps) and its delay (1.3 vs 2.7 ms) on the busiest ingest path.
 * Length: taps ≈ 3.3 × filterRateHz / transitionWidthHz, the shortest β = 6 design found by search
 * that meets the figures above. 8 → 16 kHz uses a half-band filter instead (see
 * HalfbandUpsampler2x: same figures, a sixth of the CPU). Added delay: 1.34–1.37 ms for every
 * supported pair except 8 → 16 kHz (1.69 ms) and 16 → 8 kHz (2.72 ms: its 600 Hz transition
 * band is the price of keeping the wideband mix from aliasing into 3.4–4 kHz). Measured: ripple ≤ 0.35 dB, stopband/images ≤ −62 dB.
 */

/** The filter behind a resampler, for documentation, latency accounting and tests. */
export interface ResamplerDesign {
  /** Interpolation factor L. */
  readonly phases: number;
  /** Decimation factor M. */
  readonly decimation: number;
  /** Prototype filter length (phases × tapsPerPhase). */
  readonly taps: number;
  readonly tapsPerPhase: number;
  readonly passbandHz: number;
  readonly stopbandHz: number;
  readonly cutoffHz: number;
  /** Group delay the filter adds, in ms (the same at every frequency: linear phase). */
  readonly delayMs: number;
}

export interface Resampler {
  readonly inRateHz: number;
  readonly outRateHz: number;
  /** Filter figures; taps 0 and delayMs 0 for the identity. */
  readonly design: ResamplerDesign;
  /** Upper bound on the samples `process` returns for an input of `inputLength` samples. */
  maxOutputLength(inputLength: number): number;
  /**
   * Converts the next chunk of a continuous signal; filter state carries across calls, so any
   * chunking of the input yields bit-identical output. Output is rounded and clipped to Int16.
   * Never allocates or throws. `output` should hold `maxOutputLength(input.length)` samples;
   * output beyond its length is discarded (the stream stays in step).
   * @returns samples written to `output[0…]`.
   */
  process(input: Int16Array, output: Int16Array): number;
  /** Forgets the signal history (as if newly created). */
  reset(): void;
}

const PASSBAND_FRACTION = 0.85;
const KAISER_BETA = 6;
const LENGTH_FACTOR = 3.3;
/** Where the −6 dB cutoff sits between passband and stopband edge (found with LENGTH_FACTOR). */
const CUTOFF_POSITION = 0.375;
const MAX_RATE_HZ = 384_000;
/** Bound on L so coefficient tables stay small (44.1 → 16 kHz, L = 160, is still allowed). */
const MAX_PHASES = 512;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

interface FilterBank {
  readonly design: ResamplerDesign;
  /**
   * One coefficient array per phase, oldest input first, each summing to 1. Length `stride`:
   * tapsPerPhase rounded up to a multiple of 4 with leading zeros, for the unrolled `dot4`.
   */
  readonly phaseCoeffs: readonly Float64Array[];
  readonly stride: number;
}

const banks = new Map<string, FilterBank>();

function filterBank(inRateHz: number, outRateHz: number): FilterBank {
  const key = `${inRateHz}:${outRateHz}`;
  let bank = banks.get(key);
  if (bank) return bank;
  const g = gcd(inRateHz, outRateHz);
  const phases = outRateHz / g;
  const decimation = inRateHz / g;
  if (phases > MAX_PHASES) throw new RangeError(`unsupported rate pair ${inRateHz} → ${outRateHz} Hz`);
  const filterRateHz = inRateHz * phases;
  const nyquistHz = Math.min(inRateHz, outRateHz) / 2;
  const passbandHz = PASSBAND_FRACTION * nyquistHz;
  const narrowbandUp = outRateHz > inRateHz && inRateHz <= 8000;
  const stopbandHz = narrowbandUp ? inRateHz - passbandHz : nyquistHz;
  const cutoffHz = passbandHz + CUTOFF_POSITION * (stopbandHz - passbandHz);
  const tapsPerPhase = Math.ceil((LENGTH_FACTOR * filterRateHz) / (stopbandHz - passbandHz) / phases);
  const taps = tapsPerPhase * phases;
  const h = designKaiserLowpass({ taps, sampleRateHz: filterRateHz, cutoffHz, beta: KAISER_BETA });
  const stride = Math.ceil(tapsPerPhase / 4) * 4;
  const pad = stride - tapsPerPhase;
  const phaseCoeffs: Float64Array[] = [];
  for (let p = 0; p < phases; p++) {
    const coeffs = new Float64Array(stride);
    let sum = 0;
    for (let j = 0; j < tapsPerPhase; j++) sum += coeffs[pad + j] = h[p + (tapsPerPhase - 1 - j) * phases];
    // Unit DC gain per phase: a constant input then gives a constant output, with no ripple at
    // the input rate that would show up as an image tone.
    for (let j = pad; j < stride; j++) coeffs[j] /= sum;
    phaseCoeffs.push(coeffs);
  }
  const delayMs = ((taps - 1) / 2 / filterRateHz) * 1000;
  const design = { phases, decimation, taps, tapsPerPhase, passbandHz, stopbandHz, cutoffHz, delayMs };
  bank = { design: Object.freeze(design), phaseCoeffs, stride };
  banks.set(key, bank);
  return bank;
}

/** Math.round(v), clipped to the Int16 range. */
function toInt16(v: number): number {
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/**
 * Σ h[j] × x[start + j] for j < length (a multiple of 4). Four accumulators break the add-latency
 * chain of a single running sum (measured 1.6× faster per frame in V8); the summation order is
 * fixed, so the result does not depend on how the input was chunked.
 */
function dot4(h: Float64Array, x: Float64Array, start: number, length: number): number {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  for (let j = 0; j < length; j += 4) {
    a0 += h[j] * x[start + j];
    a1 += h[j + 1] * x[start + j + 1];
    a2 += h[j + 2] * x[start + j + 2];
    a3 += h[j + 3] * x[start + j + 3];
  }
  return a0 + a1 + (a2 + a3);
}

/**
 * dot4 of one coefficient array with two windows, x[s …] and x[s + d …], written rounded to out[o1]
 * and out[o2]: each coefficient is read once for both. Each sum runs exactly as in dot4.
 */
function dot4Pair(
  h: Float64Array,
  x: Float64Array,
  s: number,
  d: number,
  length: number,
  out: Int16Array,
  o1: number,
  o2: number,
): void {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  for (let j = 0; j < length; j += 4) {
    const h0 = h[j];
    const h1 = h[j + 1];
    const h2 = h[j + 2];
    const h3 = h[j + 3];
    const p = s + j;
    const q = p + d;
    a0 += h0 * x[p];
    a1 += h1 * x[p + 1];
    a2 += h2 * x[p + 2];
    a3 += h3 * x[p + 3];
    b0 += h0 * x[q];
    b1 += h1 * x[q + 1];
    b2 += h2 * x[q + 2];
    b3 += h3 * x[q + 3];
  }
  out[o1] = toInt16(a0 + a1 + (a2 + a3));
  out[o2] = toInt16(b0 + b1 + (b2 + b3));
}

/** Inputs a PolyphaseResampler buffers at a time (longer inputs are processed in blocks). */
const POLYPHASE_BLOCK = 1024;

/**
 * The window buffer of every PolyphaseResampler on this thread (`process` never re-enters): the
 * resampler's last stride − 1 inputs, then a block of new ones, as doubles, oldest first. It is
 * linear, so every window in the block is contiguous and each input is written once. Grown when a
 * resampler with a longer filter is created, never while streaming.
 */
let polyphaseScratch = new Float64Array(0);

class PolyphaseResampler implements Resampler {
  readonly inRateHz: number;
  readonly outRateHz: number;
  readonly design: ResamplerDesign;
  readonly #phaseCoeffs: readonly Float64Array[];
  readonly #stride: number;
  /** The last stride − 1 inputs, oldest first (with the newest, the window of the next output). */
  readonly #history: Float64Array;
  /** Filter-rate position of the next output, counted from the next input sample's slot. */
  #phase = 0;

  constructor(inRateHz: number, outRateHz: number) {
    this.inRateHz = inRateHz;
    this.outRateHz = outRateHz;
    const bank = filterBank(inRateHz, outRateHz);
    this.design = bank.design;
    this.#phaseCoeffs = bank.phaseCoeffs;
    this.#stride = bank.stride;
    this.#history = new Float64Array(bank.stride - 1);
    const scratch = bank.stride - 1 + POLYPHASE_BLOCK;
    if (polyphaseScratch.length < scratch) polyphaseScratch = new Float64Array(scratch);
  }

  maxOutputLength(inputLength: number): number {
    return Math.ceil((inputLength * this.design.phases) / this.design.decimation);
  }

  process(input: Int16Array, output: Int16Array): number {
    const { phases, decimation } = this.design;
    const edge = this.#stride - 1;
    const history = this.#history;
    const x = polyphaseScratch;
    const n = input.length;
    let phase = this.#phase;
    let written = 0;
    for (let j = 0; j < edge; j++) x[j] = history[j];
    for (let start = 0; start < n; start += POLYPHASE_BLOCK) {
      const m = Math.min(POLYPHASE_BLOCK, n - start);
      for (let j = 0; j < m; j++) x[edge + j] = input[start + j];
      // This block's outputs: t = 0, 1, … at filter-rate positions phase + t × decimation, up to the
      // slot of input m (position phases × m).
      const count = phase < phases * m ? Math.ceil((phases * m - phase) / decimation) : 0;
      const fit = Math.min(count, output.length - written);
      this.#filterBlock(x, phase, fit, output, written);
      written += fit;
      phase += count * decimation - phases * m;
      for (let j = 0; j < edge; j++) x[j] = x[m + j];
    }
    for (let j = 0; j < edge; j++) history[j] = x[j];
    this.#phase = phase;
    return written;
  }

  /**
   * Writes the first `count` outputs of the block in `x` to out[o …]. Output t, at filter-rate
   * position P = phase + t·M, is phase P mod L of the window ending at input ⌊P / L⌋ (which starts
   * at x[⌊P / L⌋]). Outputs t and t + L have the same phase, their windows M inputs apart: they are
   * computed together by dot4Pair, L pairs per 2·L outputs.
   */
  #filterBlock(x: Float64Array, phase: number, count: number, out: Int16Array, o: number): void {
    const { phases: L, decimation: M } = this.design;
    const k = this.#stride;
    const phaseCoeffs = this.#phaseCoeffs;
    const stepInputs = Math.floor(M / L);
    const stepPhase = M % L;
    let i = Math.floor(phase / L);
    const p = phase % L;
    for (let t = 0; t < count; t += 2 * L, i += 2 * M) {
      let pi = i;
      let pp = p;
      for (let r = t; r < t + L && r < count; r++) {
        if (r + L < count) dot4Pair(phaseCoeffs[pp], x, pi, M, k, out, o + r, o + r + L);
        else out[o + r] = toInt16(dot4(phaseCoeffs[pp], x, pi, k));
        pi += stepInputs;
        pp += stepPhase;
        if (pp >= L) {
          pp -= L;
          pi++;
        }
      }
    }
  }

  reset(): void {
    this.#history.fill(0);
    this.#phase = 0;
  }
}

/**
 * 2× interpolation from a telephone-band rate (8 → 16 kHz, the G.711 ingest path: the busiest
 * conversion earshot runs) with a half-band filter. The passband (0.85 × 4 kHz = 3.4 kHz) and the
 * first image's edge (8 − 3.4 = 4.6 kHz) sit symmetrically around a quarter of the output rate, so
 * the prototype's −6 dB cutoff goes exactly there and every other coefficient of the prototype is
 * zero. Of each output pair one is then an input sample passed through unchanged and the other a
 * symmetric FIR of `2 × HALF` taps folded into `HALF` multiplies. Against the general polyphase
 * design for this pair (44 taps): same passband (ripple ≤ 0.01 dB) and image rejection (≤ −62 dB
 * from 4.6 kHz), 1.69 instead of 1.34 ms of delay, and 2.4 instead of 15.7 µs of CPU per 20 ms
 * frame (160 → 320 samples; medians of 400 resamplers × 200,000 calls on a shared 2-vCPU AMD EPYC VM,
 * Node 20). Before the window was kept in locals (interpolateSteps) and the polyphase path given
 * linear blocks and paired outputs, the same VM measured 8.0 against 19.6 µs (an older VM: 2.8
 * against 7.5). The code below is written out for HALF = 14; 13 would give only −57 dB.
 */
const HALF = 14;

const halfbandTaps = (() => {
  const taps = 4 * HALF - 1;
  const h = designKaiserLowpass({ taps, sampleRateHz: 16000, cutoffHz: 4000, beta: KAISER_BETA });
  const centre = 2 * HALF - 1;
  // Window position j pairs with its mirror 2·HALF − 1 − j, at ±(2(HALF − 1 − j) + 1) prototype taps.
  const g = new Float64Array(HALF);
  let sum = 0;
  for (let j = 0; j < HALF; j++) sum += 2 * (g[j] = h[centre + 2 * (HALF - 1 - j) + 1]);
  for (let j = 0; j < HALF; j++) g[j] /= sum; // unit DC gain for the interpolated phase
  return g;
})();

const HALFBAND_DESIGN: ResamplerDesign = Object.freeze({
  phases: 2,
  decimation: 1,
  taps: 4 * HALF - 1,
  tapsPerPhase: 2 * HALF,
  passbandHz: PASSBAND_FRACTION * 4000,
  stopbandHz: 8000 - PASSBAND_FRACTION * 4000,
  cutoffHz: 4000,
  // Prototype group delay (taps − 1) / 2 = 2·HALF − 1 samples at 16 kHz.
  delayMs: ((2 * HALF - 1) / 16000) * 1000,
});

/** Inputs before the newest that an interpolated sample needs: its window is EDGE + 1 = 2·HALF long. */
const EDGE = 2 * HALF - 1;
/** Inputs per step of `interpolateSteps`. */
const STEP = 8;

/**
 * Writes the outputs of input[0 … end) (end a multiple of STEP) to out[0 … 2·end): for input i, the
 * sample interpolated midway between x[i − HALF] and x[i − HALF + 1], then x[i − HALF + 1] itself.
 * `w` holds the EDGE inputs before input[0], oldest first, and on return those before input[end].
 *
 * Written out for HALF = 14, STEP = 8: the window rides in locals (x0 … x26 carried, x27 … x34 new)
 * across a step of 8 interpolated samples, so each input is read once, not 28 times: V8 checks the
 * index of every typed-array read, and sharing the reads is most of what took a 20 ms frame from 8.0
 * to 2.4 µs (see HALF). Every sample is still summed as by the plain loop — even taps, then odd taps,
 * each from the outer pair inwards, then the two sums added — so the output is identical to it (the
 * reference test in resampler.test.ts).
 */
// biome-ignore format: one interpolated sample per statement, its even taps on one line, its odd taps on the next
function interpolateSteps(w: Float64Array, input: Int16Array, end: number, out: Int16Array): void {
  const g = halfbandTaps;
  const g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4], g5 = g[5], g6 = g[6];
  const g7 = g[7], g8 = g[8], g9 = g[9], g10 = g[10], g11 = g[11], g12 = g[12], g13 = g[13];
  let x0 = w[0], x1 = w[1], x2 = w[2], x3 = w[3], x4 = w[4], x5 = w[5], x6 = w[6], x7 = w[7], x8 = w[8];
  let x9 = w[9], x10 = w[10], x11 = w[11], x12 = w[12], x13 = w[13], x14 = w[14], x15 = w[15], x16 = w[16], x17 = w[17];
  let x18 = w[18], x19 = w[19], x20 = w[20], x21 = w[21], x22 = w[22], x23 = w[23], x24 = w[24], x25 = w[25], x26 = w[26];
  for (let k = 0; k < end; k += STEP) {
    const x27 = input[k], x28 = input[k + 1], x29 = input[k + 2], x30 = input[k + 3];
    const x31 = input[k + 4], x32 = input[k + 5], x33 = input[k + 6], x34 = input[k + 7];
    const o = 2 * k;
    out[o] = toInt16(
      g0 * (x0 + x27) + g2 * (x2 + x25) + g4 * (x4 + x23) + g6 * (x6 + x21) + g8 * (x8 + x19) + g10 * (x10 + x17) + g12 * (x12 + x15) +
      (g1 * (x1 + x26) + g3 * (x3 + x24) + g5 * (x5 + x22) + g7 * (x7 + x20) + g9 * (x9 + x18) + g11 * (x11 + x16) + g13 * (x13 + x14)));
    out[o + 1] = x14;
    out[o + 2] = toInt16(
      g0 * (x1 + x28) + g2 * (x3 + x26) + g4 * (x5 + x24) + g6 * (x7 + x22) + g8 * (x9 + x20) + g10 * (x11 + x18) + g12 * (x13 + x16) +
      (g1 * (x2 + x27) + g3 * (x4 + x25) + g5 * (x6 + x23) + g7 * (x8 + x21) + g9 * (x10 + x19) + g11 * (x12 + x17) + g13 * (x14 + x15)));
    out[o + 3] = x15;
    out[o + 4] = toInt16(
      g0 * (x2 + x29) + g2 * (x4 + x27) + g4 * (x6 + x25) + g6 * (x8 + x23) + g8 * (x10 + x21) + g10 * (x12 + x19) + g12 * (x14 + x17) +
      (g1 * (x3 + x28) + g3 * (x5 + x26) + g5 * (x7 + x24) + g7 * (x9 + x22) + g9 * (x11 + x20) + g11 * (x13 + x18) + g13 * (x15 + x16)));
    out[o + 5] = x16;
    out[o + 6] = toInt16(
      g0 * (x3 + x30) + g2 * (x5 + x28) + g4 * (x7 + x26) + g6 * (x9 + x24) + g8 * (x11 + x22) + g10 * (x13 + x20) + g12 * (x15 + x18) +
      (g1 * (x4 + x29) + g3 * (x6 + x27) + g5 * (x8 + x25) + g7 * (x10 + x23) + g9 * (x12 + x21) + g11 * (x14 + x19) + g13 * (x16 + x17)));
    out[o + 7] = x17;
    out[o + 8] = toInt16(
      g0 * (x4 + x31) + g2 * (x6 + x29) + g4 * (x8 + x27) + g6 * (x10 + x25) + g8 * (x12 + x23) + g10 * (x14 + x21) + g12 * (x16 + x19) +
      (g1 * (x5 + x30) + g3 * (x7 + x28) + g5 * (x9 + x26) + g7 * (x11 + x24) + g9 * (x13 + x22) + g11 * (x15 + x20) + g13 * (x17 + x18)));
    out[o + 9] = x18;
    out[o + 10] = toInt16(
      g0 * (x5 + x32) + g2 * (x7 + x30) + g4 * (x9 + x28) + g6 * (x11 + x26) + g8 * (x13 + x24) + g10 * (x15 + x22) + g12 * (x17 + x20) +
      (g1 * (x6 + x31) + g3 * (x8 + x29) + g5 * (x10 + x27) + g7 * (x12 + x25) + g9 * (x14 + x23) + g11 * (x16 + x21) + g13 * (x18 + x19)));
    out[o + 11] = x19;
    out[o + 12] = toInt16(
      g0 * (x6 + x33) + g2 * (x8 + x31) + g4 * (x10 + x29) + g6 * (x12 + x27) + g8 * (x14 + x25) + g10 * (x16 + x23) + g12 * (x18 + x21) +
      (g1 * (x7 + x32) + g3 * (x9 + x30) + g5 * (x11 + x28) + g7 * (x13 + x26) + g9 * (x15 + x24) + g11 * (x17 + x22) + g13 * (x19 + x20)));
    out[o + 13] = x20;
    out[o + 14] = toInt16(
      g0 * (x7 + x34) + g2 * (x9 + x32) + g4 * (x11 + x30) + g6 * (x13 + x28) + g8 * (x15 + x26) + g10 * (x17 + x24) + g12 * (x19 + x22) +
      (g1 * (x8 + x33) + g3 * (x10 + x31) + g5 * (x12 + x29) + g7 * (x14 + x27) + g9 * (x16 + x25) + g11 * (x18 + x23) + g13 * (x20 + x21)));
    out[o + 15] = x21;
    x0 = x8; x1 = x9; x2 = x10; x3 = x11; x4 = x12; x5 = x13; x6 = x14; x7 = x15; x8 = x16;
    x9 = x17; x10 = x18; x11 = x19; x12 = x20; x13 = x21; x14 = x22; x15 = x23; x16 = x24; x17 = x25;
    x18 = x26; x19 = x27; x20 = x28; x21 = x29; x22 = x30; x23 = x31; x24 = x32; x25 = x33; x26 = x34;
  }
  w[0] = x0; w[1] = x1; w[2] = x2; w[3] = x3; w[4] = x4; w[5] = x5; w[6] = x6; w[7] = x7; w[8] = x8;
  w[9] = x9; w[10] = x10; w[11] = x11; w[12] = x12; w[13] = x13; w[14] = x14; w[15] = x15; w[16] = x16; w[17] = x17;
  w[18] = x18; w[19] = x19; w[20] = x20; w[21] = x21; w[22] = x22; w[23] = x23; w[24] = x24; w[25] = x25; w[26] = x26;
}

/** The interpolated sample of the window w[k … k + EDGE] (one of those in interpolateSteps). */
function interpolateAt(w: Float64Array, k: number): number {
  const g = halfbandTaps;
  const even =
    g[0] * (w[k] + w[k + 27]) +
    g[2] * (w[k + 2] + w[k + 25]) +
    g[4] * (w[k + 4] + w[k + 23]) +
    g[6] * (w[k + 6] + w[k + 21]) +
    g[8] * (w[k + 8] + w[k + 19]) +
    g[10] * (w[k + 10] + w[k + 17]) +
    g[12] * (w[k + 12] + w[k + 15]);
  const odd =
    g[1] * (w[k + 1] + w[k + 26]) +
    g[3] * (w[k + 3] + w[k + 24]) +
    g[5] * (w[k + 5] + w[k + 22]) +
    g[7] * (w[k + 7] + w[k + 20]) +
    g[9] * (w[k + 9] + w[k + 18]) +
    g[11] * (w[k + 11] + w[k + 16]) +
    g[13] * (w[k + 13] + w[k + 14]);
  return toInt16(even + odd);
}

class HalfbandUpsampler2x implements Resampler {
  readonly inRateHz = 8000;
  readonly outRateHz = 16000;
  readonly design = HALFBAND_DESIGN;
  /** [0, EDGE): the last EDGE inputs, oldest first; [EDGE, EDGE + STEP): staging for the next few. */
  readonly #window = new Float64Array(EDGE + STEP);

  maxOutputLength(inputLength: number): number {
    return 2 * inputLength;
  }

  process(input: Int16Array, output: Int16Array): number {
    const n = input.length;
    const w = this.#window;
    // Input i yields outputs 2i (interpolated) and 2i + 1 (passed through): the inputs below `pairs`
    // get both; where `output` is short and its length odd, input `pairs` gets the first only.
    const pairs = Math.min(n, output.length >> 1);
    const written = Math.min(2 * n, output.length);
    let k = pairs - (pairs % STEP);
    interpolateSteps(w, input, k, output);
    // The outputs left after whole steps: through the staging slots, up to STEP inputs at a time.
    const producing = (written + 1) >> 1; // inputs that yield any output
    while (k < producing) {
      const m = Math.min(STEP, n - k);
      for (let j = 0; j < m; j++) w[EDGE + j] = input[k + j];
      for (let j = 0; j < m; j++, k++) {
        if (2 * k < written) output[2 * k] = interpolateAt(w, j);
        if (2 * k + 1 < written) output[2 * k + 1] = w[j + HALF];
      }
      w.copyWithin(0, m, m + EDGE);
    }
    // Inputs past the end of `output` only join the history.
    if (n - k >= EDGE) {
      for (let j = 0; j < EDGE; j++) w[j] = input[n - EDGE + j];
    } else if (k < n) {
      w.copyWithin(0, n - k, EDGE);
      for (let j = EDGE - (n - k); j < EDGE; j++) w[j] = input[n - EDGE + j];
    }
    return written;
  }

  reset(): void {
    this.#window.fill(0);
  }
}

const IDENTITY: ResamplerDesign = Object.freeze({
  phases: 1,
  decimation: 1,
  taps: 0,
  tapsPerPhase: 0,
  passbandHz: Number.POSITIVE_INFINITY,
  stopbandHz: Number.POSITIVE_INFINITY,
  cutoffHz: Number.POSITIVE_INFINITY,
  delayMs: 0,
});

class PassthroughResampler implements Resampler {
  readonly inRateHz: number;
  readonly outRateHz: number;
  readonly design = IDENTITY;

  constructor(rateHz: number) {
    this.inRateHz = this.outRateHz = rateHz;
  }

  maxOutputLength(inputLength: number): number {
    return inputLength;
  }

  process(input: Int16Array, output: Int16Array): number {
    const n = Math.min(input.length, output.length);
    output.set(n === input.length ? input : input.subarray(0, n));
    return n;
  }

  reset(): void {}
}

/**
 * Creates a resampler from `inRateHz` to `outRateHz` (positive integer rates up to 384 kHz).
 * Designed and tested for 8/24/32/48 kHz → 16 kHz and 16 kHz → 8/24/48 kHz; 16 → 16 kHz is a copy.
 * Filter tables are built once per rate pair and shared.
 * @throws RangeError for an invalid or unsupported rate pair (at setup, never while streaming).
 */
export function createResampler(inRateHz: number, outRateHz: number): Resampler {
  for (const rate of [inRateHz, outRateHz]) {
    if (!Number.isInteger(rate) || rate <= 0 || rate > MAX_RATE_HZ) {
      throw new RangeError(`sample rate must be an integer in 1…${MAX_RATE_HZ} Hz, got ${rate}`);
    }
  }
  if (inRateHz === outRateHz) return new PassthroughResampler(inRateHz);
  if (inRateHz === 8000 && outRateHz === 16000) return new HalfbandUpsampler2x();
  return new PolyphaseResampler(inRateHz, outRateHz);
}
