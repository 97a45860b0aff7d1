import { createResampler, type Resampler } from '../audio/resampler.js';
import type { Bus } from '../bus/bus.js';
import { CANONICAL_SAMPLE_RATE_HZ, FRAME_SAMPLES, type TrackFrame } from '../domain/audio-format.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * A participant track whose frames go onto the bus (to every node that mixes the call), counted in
 * the node's frame metrics, overall and by the platform it arrived from.
 */
export function publishingTrack(
  deps: { readonly metrics: Metrics; readonly bus: Bus },
  callPk: string,
  name: string,
  format: { encoding: string; sampleRateHz: number; platform: string },
  connectionId: string,
): IngestTrack {
  const { metrics, bus } = deps;
  const platformFrames = metrics.platformFrameCount(format.platform);
  const count = () => {
    metrics.framesIn.inc();
    platformFrames.count++;
  };
  return new IngestTrack(
    callPk,
    name,
    format,
    (frame) => {
      count();
      bus.publishFrame(frame);
    },
    connectionId,
    { wanted: () => bus.wantsFrames(callPk), onSkipped: count },
  );
}

/** How an ingest track learns that nobody takes its frames, and counts the ones it skips then. */
export interface TrackDemand {
  /** Whether anyone may take the call's frames now (Bus.wantsFrames); default always. */
  readonly wanted?: () => boolean;
  /** A frame went by while nobody wanted it: counted, not made. */
  readonly onSkipped?: () => void;
}

/**
 * One participant's audio on its way in: samples at the source rate are resampled to 16 kHz and cut
 * into canonical 20 ms frames, each published with a sequence number and its capture time.
 * Never throws on audio content; allocates nothing per message once warmed up.
 *
 * **Nothing is made that nobody takes.** While the bus says no one wants the call's frames (no
 * listener on this node or worker, nor on another worker; never known on NATS), a write only moves
 * the frame cutter on by the samples it carries and counts the frames that go by (`framesIn`, the
 * metrics): no resampling, no framing, no publish. Most calls of a contact centre have nobody
 * listening at any moment. When someone starts to, the next write resumes where the stream is — the
 * same sequence numbers — with the resampler started afresh and the part of the current frame that
 * went by silent (at most 20 ms, before anything the new listener hears).
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
  /** writeAt: the source position (samples) the next in-order write starts at; −1 before the first. */
  #nextPosition = -1;
  /** writeAt: a second resampler for packets that arrive late (the in-order one keeps its history). */
  #lateResampler: Resampler | null = null;
  readonly #wanted: () => boolean;
  readonly #onSkipped: () => void;
  /** Skipping: what went by since, in source samples and in the canonical samples they stand for. */
  #skipping = false;
  #skippedSource = 0;
  #skippedCanonical = 0;

  constructor(
    callPk: string,
    name: string,
    format: { encoding: string; sampleRateHz: number; platform?: string },
    publish: (frame: TrackFrame) => void,
    connectionId = '',
    demand: TrackDemand = {},
  ) {
    this.#wanted = demand.wanted ?? (() => true);
    this.#onSkipped = demand.onSkipped ?? (() => {});
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
    this.#append(samples);
  }

  /**
   * Whether what is written now would be heard (Bus.wantsFrames: someone takes the call's frames).
   * While not, an endpoint may pass `skip` the sample count instead of decoding audio that would
   * only be counted.
   */
  get wanted(): boolean {
    return this.#wanted();
  }

  /**
   * As `write` of `sourceSamples` samples that nobody takes (`wanted` false): the frames they make
   * are counted, nothing is decoded or published. Should someone take them after all, they are
   * written as silence (the caller did not decode them).
   */
  skip(sourceSamples: number): void {
    if (!this.connected || !(sourceSamples > 0)) return;
    if (this.#wanted()) this.#append(new Int16Array(sourceSamples));
    else this.#skip(sourceSamples);
  }

  /**
   * Takes samples that start `position` samples (at the source rate) after the stream's first, in
   * any order — RTP, whose timestamps place each packet (src/ingest/rtp.ts, RtpSequencer). Frames
   * are numbered by where they fall (seq = position in 20 ms frames), so the call's jitter buffer
   * (src/audio/track-buffer.ts) puts a reordered packet in its slot and conceals a lost one:
   * - in order (the position the last one ended at): as `write`;
   * - ahead (packets missing before it): a partial frame is sent with the rest silent, and the
   *   frames of the gap are not sent — lost, unless they come late;
   * - behind (late: filling a gap): resampled on its own, and the whole frames it covers sent with
   *   their own seq. Its resampler starts from silence, not from the packet before: the frame's
   *   first 3.5 ms (8 → 16 kHz: the half-band filter's length) differ from the in-order result.
   * With 20 ms packets, as Asterisk sends, each packet is exactly one frame.
   */
  writeAt(position: number, samples: Int16Array): void {
    if (!this.connected || !Number.isSafeInteger(position) || position < 0) return;
    const next = this.#nextPosition;
    if (next < 0 || position > next) this.#seek(position);
    else if (position < next) {
      this.#writeLate(position, samples);
      return;
    }
    this.#nextPosition = position + samples.length;
    this.#append(samples);
  }

  /** Moves the in-order frame cutter to a source position (a gap, or the first packet). */
  #seek(position: number): void {
    const at = this.#canonicalPosition(position);
    const seq = Math.floor(at / FRAME_SAMPLES);
    const filled = at - seq * FRAME_SAMPLES;
    if (this.#nextPosition >= 0 && this.#filled > 0 && seq !== this.#seq) {
      this.#frame.fill(0, this.#filled);
      this.#publishFrame(this.#frame);
    }
    if (this.#nextPosition < 0 || seq !== this.#seq) this.#frame.fill(0, 0, filled);
    else this.#frame.fill(0, this.#filled, filled);
    this.#seq = seq;
    this.#filled = filled;
  }

  #writeLate(position: number, samples: Int16Array): void {
    // Filling a gap nobody hears: it would only have been published.
    if (this.#skipping) return;
    let canonical = samples;
    if (this.#resampler) {
      this.#lateResampler ??= createResampler(this.sampleRateHz, CANONICAL_SAMPLE_RATE_HZ);
      this.#lateResampler.reset();
      const out = new Int16Array(this.#lateResampler.maxOutputLength(samples.length));
      canonical = out.subarray(0, this.#lateResampler.process(samples, out));
    }
    const start = this.#canonicalPosition(position);
    const end = start + canonical.length;
    const firstSeq = Math.ceil(start / FRAME_SAMPLES);
    const savedSeq = this.#seq;
    for (let seq = firstSeq; (seq + 1) * FRAME_SAMPLES <= end; seq++) {
      const offset = seq * FRAME_SAMPLES - start;
      this.#seq = seq;
      this.#publishFrame(canonical.subarray(offset, offset + FRAME_SAMPLES));
    }
    this.#seq = savedSeq;
  }

  /** A source position in canonical (16 kHz) samples. */
  #canonicalPosition(position: number): number {
    return Math.round((position * CANONICAL_SAMPLE_RATE_HZ) / this.sampleRateHz);
  }

  #publishFrame(samples: Int16Array): void {
    this.framesIn++;
    if (this.#skipping) {
      this.#onSkipped();
      return;
    }
    // The bus contract lets receivers see the samples only during this call, so the frame
    // buffer is reused for the next frame.
    this.#publish({
      callPk: this.callPk,
      participant: this.name,
      seq: this.#seq,
      captureTimeMs: Date.now(),
      samples,
    });
  }

  #append(samples: Int16Array): void {
    if (!this.#wanted()) {
      this.#skip(samples.length);
      return;
    }
    if (this.#skipping) this.#resume();
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
        this.#publishFrame(this.#frame);
        this.#seq++;
      }
    }
  }

  /** Moves the frame cutter on by what `sourceSamples` stand for at 16 kHz, counting the frames that go by. */
  #skip(sourceSamples: number): void {
    this.#skipping = true;
    this.#skippedSource += sourceSamples;
    const canonical = Math.floor((this.#skippedSource * CANONICAL_SAMPLE_RATE_HZ) / this.sampleRateHz);
    let n = canonical - this.#skippedCanonical;
    this.#skippedCanonical = canonical;
    while (n > 0) {
      const take = Math.min(FRAME_SAMPLES - this.#filled, n);
      this.#filled += take;
      n -= take;
      if (this.#filled === FRAME_SAMPLES) {
        this.#filled = 0;
        this.#publishFrame(this.#frame);
        this.#seq++;
      }
    }
  }

  /** Someone listens again: the current frame's part that went by is silence, the resampler fresh. */
  #resume(): void {
    this.#skipping = false;
    this.#skippedSource = this.#skippedCanonical = 0;
    this.#frame.fill(0, 0, this.#filled);
    this.#resampler?.reset();
  }
}
