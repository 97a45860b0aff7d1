import { FRAME_SAMPLES } from '../domain/audio-format.js';

/**
 * Summing participants' frames into one output frame. Sums are exact and then clipped to
 * [−32768, 32767]: storing an out-of-range value into an Int16Array would wrap, turning a loud
 * peak into a full-scale click of the opposite sign.
 *
 * Inputs shorter than the output count as silence past their end; neither function allocates
 * (after the first call) or throws on audio content.
 */

/**
 * Mixes `inputs[0 … count)` into `out` (mono): `out[i] = clip(Σ inputs[k][i])`.
 * `count` lets a caller reuse one inputs array across ticks; `count` 0 writes silence.
 */
export function mixMono(inputs: readonly Int16Array[], count: number, out: Int16Array): void {
  const n = Math.min(count, inputs.length);
  const frames = out.length;
  // The common shapes (nobody, one talker, a two-party call) get their own tight loops: measured
  // ~2.5× faster than the general path for two inputs.
  if (n <= 0) out.fill(0);
  else if (n === 1 && inputs[0].length === frames) out.set(inputs[0]);
  else if (n === 2 && inputs[0].length >= frames && inputs[1].length >= frames)
    sum2(inputs[0], inputs[1], out);
  else clipInto(accumulate(inputs, 0, n, frames), out, 0, 1, frames);
}

/**
 * Mixes into an interleaved stereo frame (`outInterleaved.length / 2` sample frames): the first
 * input alone on the left, the sum of all the others on the right (SPEC: `channels=2`, first
 * participant left, all others right).
 */
export function mixStereo(inputs: readonly Int16Array[], count: number, outInterleaved: Int16Array): void {
  const n = Math.min(count, inputs.length);
  const frames = outInterleaved.length >> 1;
  clipInto(accumulate(inputs, 0, Math.min(n, 1), frames), outInterleaved, 0, 2, frames);
  clipInto(accumulate(inputs, 1, n, frames), outInterleaved, 1, 2, frames);
}

function sum2(a: Int16Array, b: Int16Array, out: Int16Array): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.min(32767, Math.max(-32768, a[i] + b[i]));
}

/**
 * Shared accumulator; grows (once) only for frames longer than any seen. Int32 holds the sum of
 * up to 65 536 full-scale inputs.
 */
let scratch = new Int32Array(2 * FRAME_SAMPLES);

/** Σ inputs[from … to) into the shared scratch (valid until the next call), input by input. */
function accumulate(inputs: readonly Int16Array[], from: number, to: number, frames: number): Int32Array {
  if (scratch.length < frames) scratch = new Int32Array(frames);
  const acc = scratch;
  acc.fill(0, 0, frames);
  for (let k = from; k < to; k++) {
    const input = inputs[k];
    const n = Math.min(frames, input.length);
    for (let i = 0; i < n; i++) acc[i] += input[i];
  }
  return acc;
}

function clipInto(acc: Int32Array, out: Int16Array, offset: number, stride: number, frames: number): void {
  for (let i = 0; i < frames; i++) out[offset + i * stride] = Math.min(32767, Math.max(-32768, acc[i]));
}
