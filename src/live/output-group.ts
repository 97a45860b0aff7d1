import { encodeMulaw } from '../audio/g711.js';
import { OPUS_COMPLEXITY, OpusPacketEncoder } from '../audio/opus.js';
import { writePcm16le } from '../audio/pcm16.js';
import { createResampler, type Resampler } from '../audio/resampler.js';
import { CANONICAL_SAMPLE_RATE_HZ, FRAME_SAMPLES } from '../domain/audio-format.js';
import type { ListenerSink } from './listener.js';
import { type ListenerFormat, messagePayloadBytes } from './listener-options.js';
import { allocBinaryFrame } from './ws-frame.js';

/**
 * The listeners of one call that share a format, and the conversion from the canonical mix to it:
 * resample, interleave, accumulate `frameMs`, encode, frame — once per message, whatever the number
 * of listeners.
 */
export class OutputGroup {
  readonly format: ListenerFormat;
  readonly listeners = new Set<ListenerSink>();
  readonly #resamplers: Resampler[];
  readonly #scratch: Int16Array[];
  /** Interleaved samples of the message being filled. */
  readonly #pending: Int16Array;
  #filled = 0;
  readonly #samplesPerMessage: number;
  readonly #payloadBytes: number;
  /** `encoding=opus`: the group's one encoder (one packet per message, whatever the listeners). */
  readonly #opus: OpusPacketEncoder | null;

  /** `opusComplexity`: libopus's, for an `encoding=opus` group (0–10). */
  constructor(format: ListenerFormat, opusComplexity = OPUS_COMPLEXITY) {
    this.format = format;
    const identity = format.sampleRateHz === CANONICAL_SAMPLE_RATE_HZ;
    this.#resamplers = identity
      ? []
      : Array.from({ length: format.channels }, () =>
          createResampler(CANONICAL_SAMPLE_RATE_HZ, format.sampleRateHz),
        );
    this.#scratch = this.#resamplers.map((r) => new Int16Array(r.maxOutputLength(FRAME_SAMPLES)));
    this.#payloadBytes = messagePayloadBytes(format);
    const samplesPerMessage = ((format.sampleRateHz * format.frameMs) / 1000) * format.channels;
    // Headroom: a resampler may hand out one sample more or less per frame at phase boundaries.
    this.#samplesPerMessage = samplesPerMessage;
    this.#pending = new Int16Array(samplesPerMessage + 8 * format.channels);
    this.#opus =
      format.encoding === 'opus'
        ? new OpusPacketEncoder(format.sampleRateHz, format.channels, opusComplexity)
        : null;
  }

  /**
   * Adds one 20 ms tick of the mix (`mono`, or `left`/`right` for stereo formats) and returns the
   * framed message when one is complete, else null.
   */
  push(mono: Int16Array, left: Int16Array, right: Int16Array): Buffer | null {
    const pending = this.#pending;
    if (this.format.channels === 1) {
      const src = this.#convert(mono, 0);
      const n = Math.min(src.length, pending.length - this.#filled);
      pending.set(src.subarray(0, n), this.#filled);
      this.#filled += n;
    } else {
      const l = this.#convert(left, 0);
      const r = this.#convert(right, 1);
      const n = Math.min(l.length, r.length, (pending.length - this.#filled) >> 1);
      for (let i = 0, j = this.#filled; i < n; i++, j += 2) {
        pending[j] = l[i];
        pending[j + 1] = r[i];
      }
      this.#filled += 2 * n;
    }
    if (this.#filled < this.#samplesPerMessage) return null;
    const message = this.#encode(this.#samplesPerMessage);
    // Keep any overflow for the next message.
    pending.copyWithin(0, this.#samplesPerMessage, this.#filled);
    this.#filled -= this.#samplesPerMessage;
    return message;
  }

  /** The tick's samples at the output rate (the input itself when no resampling is needed). */
  #convert(samples: Int16Array, channel: number): Int16Array {
    const r = this.#resamplers[channel];
    if (!r) return samples;
    const out = this.#scratch[channel];
    return out.subarray(0, r.process(samples, out));
  }

  #encode(samples: number): Buffer {
    const pcm = this.#pending.subarray(0, samples);
    if (this.#opus) {
      const packet = this.#opus.encode(pcm);
      const { frame, payloadOffset } = allocBinaryFrame(packet.length);
      packet.copy(frame, payloadOffset);
      return frame;
    }
    const { frame, payloadOffset } = allocBinaryFrame(this.#payloadBytes);
    if (this.format.encoding === 'pcm16') writePcm16le(pcm, frame, payloadOffset);
    else encodeMulaw(pcm, frame, payloadOffset);
    return frame;
  }
}
