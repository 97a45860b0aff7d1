import { createResampler, type Resampler } from '../audio/resampler.js';
import { CANONICAL_SAMPLE_RATE_HZ, FRAME_SAMPLES, type TrackFrame } from '../domain/audio-format.js';

/**
 * One participant's audio on its way in: samples at the source rate are resampled to 16 kHz and cut
 * into canonical 20 ms frames, each published with a sequence number and its capture time.
 * Never throws on audio content; allocates nothing per message once warmed up.
 */
export class IngestTrack {
  readonly callPk: string;
  readonly name: string;
  /** The ingest endpoint it arrives on: `generic` or a platform's name. */
  readonly platform: string;
  readonly encoding: string;
  readonly sampleRateHz: number;
  /** The ingest connection that carries it (a newer connection with the same name takes it over). */
  readonly connectionId: string;
  framesIn = 0;
  /** False once it ended, left or was taken over: what is written from then on is dropped. */
  connected = true;
  readonly #resampler: Resampler | null;
  readonly #publish: (frame: TrackFrame) => void;
  readonly #frame = new Int16Array(FRAME_SAMPLES);
  #filled = 0;
  #seq = 0;
  #resampled = new Int16Array(0);

  constructor(
    callPk: string,
    name: string,
    format: { encoding: string; sampleRateHz: number; platform?: string },
    publish: (frame: TrackFrame) => void,
    connectionId = '',
  ) {
    this.callPk = callPk;
    this.name = name;
    this.platform = format.platform ?? 'generic';
    this.connectionId = connectionId;
    this.encoding = format.encoding;
    this.sampleRateHz = format.sampleRateHz;
    this.#resampler =
      format.sampleRateHz === CANONICAL_SAMPLE_RATE_HZ
        ? null
        : createResampler(format.sampleRateHz, CANONICAL_SAMPLE_RATE_HZ);
    this.#publish = publish;
  }

  /** Takes the next samples of this participant (at the source rate, any count). */
  write(samples: Int16Array): void {
    if (!this.connected) return;
    let canonical = samples;
    if (this.#resampler) {
      const needed = this.#resampler.maxOutputLength(samples.length);
      if (this.#resampled.length < needed)
        this.#resampled = new Int16Array(Math.max(needed, 2 * this.#resampled.length));
      canonical = this.#resampled.subarray(0, this.#resampler.process(samples, this.#resampled));
    }
    let offset = 0;
    while (offset < canonical.length) {
      const n = Math.min(FRAME_SAMPLES - this.#filled, canonical.length - offset);
      this.#frame.set(canonical.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === FRAME_SAMPLES) {
        this.#filled = 0;
        this.framesIn++;
        // The bus contract lets receivers see the samples only during this call, so the frame
        // buffer is reused for the next frame.
        this.#publish({
          callPk: this.callPk,
          participant: this.name,
          seq: this.#seq++,
          captureTimeMs: Date.now(),
          samples: this.#frame,
        });
      }
    }
  }
}
