import { FRAME_SAMPLES } from '../domain/audio-format.js';

/** What `TrackBuffer.pull` put in the output frame. */
export const TrackPull = {
  /** A received frame. */
  AUDIO: 'audio',
  /** A missing frame covered by the last one, fading out. */
  CONCEALED: 'concealed',
  /** A missing frame past concealment: zeros, while the stream is still expected to continue. */
  SILENCE: 'silence',
  /** Nothing to play (not started, prebuffering, or ended): zeros; the track contributes nothing. */
  IDLE: 'idle',
} as const;
export type TrackPull = (typeof TrackPull)[keyof typeof TrackPull];

export interface TrackBufferOptions {
  /** Frames held before playback (re)starts; default 1 (20 ms). Between 1 and capacityFrames. */
  readonly prebufferFrames?: number;
  /** Most frames held; bounds the added latency to capacity × 20 ms. Default 5. */
  readonly capacityFrames?: number;
  /** Missing frames covered by fading out the last frame before falling silent; default 2. */
  readonly maxConcealFrames?: number;
  /** A seq at least this far ahead of or behind the next one to play starts a new stream; default 50 (1 s). */
  readonly resyncFrames?: number;
  /**
   * Plays after which the buffer may still hold the prebuffer or more before it sheds a frame to win the latency
   * back (after a burst or a stall); default 25 (500 ms). A quiet frame is shed at once; a loud one
   * only after four times as long, so speech is rarely cut.
   */
  readonly trimAfterTicks?: number;
}

/**
 * Frame counters, only ever increasing. Every pushed frame ends up in exactly one of played, late,
 * dropped or duplicate, or is still buffered: framesIn = framesPlayed + framesLate + framesDropped +
 * framesDuplicate + depth. Lost and concealed count output slots, not pushed frames.
 */
export interface TrackBufferStats {
  framesIn: number;
  framesPlayed: number;
  /** Arrived after their slot was played (or the stream moved past them): discarded. */
  framesLate: number;
  /** Slots played (or skipped) while playing for which no frame had arrived. */
  framesLost: number;
  /** Buffered frames discarded to stay within capacity, on re-sync or reset; also invalid seqs. */
  framesDropped: number;
  /** Lost slots that were concealed (a subset of framesLost). */
  framesConcealed: number;
  /** Second copies of a frame already buffered: discarded. */
  framesDuplicate: number;
}

const Phase = { IDLE: 0, PRIMING: 1, PLAYING: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];
const EMPTY = -1;

/** Peak below −40 dBFS: shedding such a frame is inaudible. */
function isQuiet(frame: Int16Array): boolean {
  for (let i = 0; i < frame.length; i++) if (frame[i] > 327 || frame[i] < -327) return false;
  return true;
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}`);
  return value;
}

/**
 * A per-participant jitter buffer of canonical frames (FRAME_SAMPLES samples of 16 kHz PCM16),
 * read once per mixer tick. Frames are kept in a window of `capacityFrames` slots starting at the
 * next sequence number to play; a frame beyond the window pushes it forward, dropping the oldest,
 * so latency never exceeds the capacity. After `capacityFrames` consecutive missing slots with
 * nothing buffered the track goes idle and re-primes on its next frame — which may carry any seq,
 * so a participant who leaves and rejoins with seq restarting at 0 plays again.
 *
 * Frames are copied into preallocated slots: no allocation after construction, and nothing on
 * the per-frame path throws.
 */
export class TrackBuffer {
  readonly #prebuffer: number;
  readonly #capacity: number;
  readonly #maxConceal: number;
  readonly #resync: number;
  readonly #slots: Int16Array[] = [];
  /** The seq held by each slot, or EMPTY. Slot of seq s is s % capacity. */
  readonly #slotSeq: Float64Array;
  /** The last frame played, for concealment (swapped with the slot it came from: no copy). */
  #last: Int16Array = new Int16Array(FRAME_SAMPLES);
  #hasLast = false;
  #phase: Phase = Phase.IDLE;
  /** Next seq to play (PLAYING) or the first seq of the window (PRIMING). */
  #next = 0;
  #depth = 0;
  #missing = 0;
  #primingTicks = 0;
  #lateRun = 0;
  #ending = false;
  readonly #trimAfter: number;
  /** Consecutive plays after which at least the prebuffer was still buffered. */
  #excessTicks = 0;
  readonly #stats: TrackBufferStats = {
    framesIn: 0,
    framesPlayed: 0,
    framesLate: 0,
    framesLost: 0,
    framesDropped: 0,
    framesConcealed: 0,
    framesDuplicate: 0,
  };

  /** @throws RangeError for invalid options (at setup). */
  constructor(options: TrackBufferOptions = {}) {
    this.#capacity = checkCount('capacityFrames', options.capacityFrames ?? 5, 1);
    this.#prebuffer = checkCount('prebufferFrames', options.prebufferFrames ?? 1, 1);
    if (this.#prebuffer > this.#capacity)
      throw new RangeError('prebufferFrames must not exceed capacityFrames');
    this.#maxConceal = checkCount('maxConcealFrames', options.maxConcealFrames ?? 2, 0);
    this.#resync = checkCount('resyncFrames', options.resyncFrames ?? 50, this.#capacity + 1);
    this.#trimAfter = checkCount('trimAfterTicks', options.trimAfterTicks ?? 25, 1);
    for (let i = 0; i < this.#capacity; i++) this.#slots.push(new Int16Array(FRAME_SAMPLES));
    this.#slotSeq = new Float64Array(this.#capacity).fill(EMPTY);
  }

  /** Live counters (read-only view; updated in place, never reallocated). */
  get stats(): Readonly<TrackBufferStats> {
    return this.#stats;
  }

  /** Frames buffered now (0 … capacityFrames). */
  get depth(): number {
    return this.#depth;
  }

  /**
   * Offers frame `seq` (a non-negative safe integer; anything else is counted as dropped).
   * `samples` should hold FRAME_SAMPLES samples: extra ones are ignored, missing ones are zeros.
   */
  push(seq: number, samples: Int16Array): void {
    this.#stats.framesIn++;
    if (!Number.isSafeInteger(seq) || seq < 0) {
      this.#stats.framesDropped++;
      return;
    }
    this.#ending = false;
    if (this.#admit(seq)) this.#store(seq, samples);
  }

  /** Decides whether frame `seq` is kept, first restarting or moving the window if it says so. */
  #admit(seq: number): boolean {
    if (this.#phase === Phase.IDLE) return this.#restart(seq);
    const ahead = seq - this.#next;
    if (ahead >= this.#resync || ahead <= -this.#resync) return this.#restart(seq);
    if (ahead < 0) {
      if (this.#phase === Phase.PRIMING && this.#newestSeq() < seq + this.#capacity) {
        // Out of order before playback started: the stream starts earlier than we thought.
        this.#next = seq;
        return true;
      }
      // Late frames come one at a time; a steady run of them is a stream that restarted nearby.
      if (++this.#lateRun > this.#capacity) return this.#restart(seq);
      this.#stats.framesLate++;
      return false;
    }
    this.#lateRun = 0;
    if (ahead >= this.#capacity) this.#advanceTo(seq - this.#capacity + 1);
    return true;
  }

  /**
   * Fills `out[0 … FRAME_SAMPLES)` with the next frame (or zeros) and advances by one slot. Call
   * once per 20 ms tick. `out` should hold FRAME_SAMPLES samples.
   */
  pull(out: Int16Array): TrackPull {
    if (this.#phase === Phase.PRIMING) {
      this.#primingTicks++;
      // Start once prebuffered, at end of stream, or when a short stream has waited long enough.
      if (this.#depth >= this.#prebuffer || this.#ending || this.#primingTicks > this.#capacity) {
        this.#phase = Phase.PLAYING;
        this.#missing = 0;
      }
    }
    if (this.#phase !== Phase.PLAYING) return silence(out, TrackPull.IDLE);
    const slot = this.#next % this.#capacity;
    if (this.#slotSeq[slot] === this.#next) {
      const frame = this.#slots[slot];
      this.#slots[slot] = this.#last;
      this.#last = frame;
      this.#hasLast = true;
      this.#slotSeq[slot] = EMPTY;
      this.#depth--;
      this.#next++;
      this.#missing = 0;
      this.#stats.framesPlayed++;
      out.set(out.length >= FRAME_SAMPLES ? frame : frame.subarray(0, out.length));
      this.#trimExcess();
      return TrackPull.AUDIO;
    }
    if (this.#depth === 0 && (this.#ending || this.#missing >= this.#capacity)) {
      // Ended, or a long gap: stop counting losses and re-prime on the next frame.
      this.#phase = Phase.IDLE;
      return silence(out, TrackPull.IDLE);
    }
    this.#missing++;
    this.#next++;
    this.#stats.framesLost++;
    if (this.#missing > this.#maxConceal || !this.#hasLast) return silence(out, TrackPull.SILENCE);
    this.#stats.framesConcealed++;
    this.#conceal(out);
    return TrackPull.CONCEALED;
  }

  /**
   * Latency does not stay high after a burst: when more than the prebuffer has stayed buffered for
   * `trimAfterTicks` plays, the next buffered frame is shed (counted as dropped) if it is quiet, or
   * in any case after four times as long.
   */
  #trimExcess(): void {
    // In steady state a frame arrives just before the tick that plays it: prebuffer − 1 frames
    // remain after a play. Anything beyond that, tick after tick, is latency to win back.
    if (this.#depth < this.#prebuffer) {
      this.#excessTicks = 0;
      return;
    }
    if (++this.#excessTicks < this.#trimAfter) return;
    const slot = this.#next % this.#capacity;
    if (this.#slotSeq[slot] !== this.#next) return;
    if (this.#excessTicks < 4 * this.#trimAfter && !isQuiet(this.#slots[slot])) return;
    this.#excessTicks = 0;
    this.#advanceTo(this.#next + 1);
  }

  /**
   * The stream has ended (participant left): play what is buffered, then go idle without
   * concealing or counting losses. A later push starts a new stream.
   */
  end(): void {
    this.#ending = true;
  }

  /** Discards buffered frames (counted as dropped) and goes idle; counters are kept. */
  reset(): void {
    this.#flush();
    this.#phase = Phase.IDLE;
    this.#hasLast = false;
    this.#ending = false;
  }

  /** Drops what is buffered and starts prebuffering a new stream at `seq`; returns true (keep it). */
  #restart(seq: number): true {
    this.#flush();
    this.#phase = Phase.PRIMING;
    this.#next = seq;
    this.#primingTicks = 0;
    this.#lateRun = 0;
    this.#hasLast = false;
    return true;
  }

  #store(seq: number, samples: Int16Array): void {
    const slot = seq % this.#capacity;
    if (this.#slotSeq[slot] === seq) {
      this.#stats.framesDuplicate++;
      return;
    }
    const frame = this.#slots[slot];
    if (samples.length >= FRAME_SAMPLES) {
      frame.set(samples.length === FRAME_SAMPLES ? samples : samples.subarray(0, FRAME_SAMPLES));
    } else {
      frame.set(samples);
      frame.fill(0, samples.length);
    }
    this.#slotSeq[slot] = seq;
    this.#depth++;
  }

  /** Moves the window start to `newNext`, dropping buffered frames before it. */
  #advanceTo(newNext: number): void {
    let dropped = 0;
    for (let slot = 0; slot < this.#capacity; slot++) {
      if (this.#slotSeq[slot] !== EMPTY && this.#slotSeq[slot] < newNext) {
        this.#slotSeq[slot] = EMPTY;
        dropped++;
      }
    }
    this.#depth -= dropped;
    this.#stats.framesDropped += dropped;
    // While playing, skipped slots that never arrived are lost just as if they had been played.
    if (this.#phase === Phase.PLAYING) this.#stats.framesLost += newNext - this.#next - dropped;
    this.#next = newNext;
  }

  #newestSeq(): number {
    let newest = EMPTY;
    for (let slot = 0; slot < this.#capacity; slot++) newest = Math.max(newest, this.#slotSeq[slot]);
    return newest;
  }

  #flush(): void {
    this.#stats.framesDropped += this.#depth;
    this.#slotSeq.fill(EMPTY);
    this.#depth = 0;
    this.#missing = 0;
  }

  /** The last frame again under a linear fade that reaches 0 at the end of the last concealed slot. */
  #conceal(out: Int16Array): void {
    const n = Math.min(out.length, FRAME_SAMPLES);
    const from = 1 - (this.#missing - 1) / this.#maxConceal;
    const step = -1 / this.#maxConceal / FRAME_SAMPLES;
    const last = this.#last;
    for (let i = 0; i < n; i++) out[i] = Math.round(last[i] * (from + step * i));
  }
}

function silence(out: Int16Array, result: TrackPull): TrackPull {
  out.fill(0, 0, FRAME_SAMPLES);
  return result;
}
