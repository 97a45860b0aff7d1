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
  /**
   * Frames held before playback (re)starts, and the least target depth; default 1 (20 ms). Between
   * 1 and capacityFrames.
   */
  readonly prebufferFrames?: number;
  /**
   * Most frames held, and the largest target depth; bounds the added latency to capacity × 20 ms.
   * Default 6 (120 ms).
   */
  readonly capacityFrames?: number;
  /** Missing frames covered by fading out the last frame before falling silent; default 2. */
  readonly maxConcealFrames?: number;
  /** A seq at least this far ahead of or behind the next one to play starts a new stream; default 50 (1 s). */
  readonly resyncFrames?: number;
  /**
   * Plays after which the playout may still be above the target depth before the buffer sheds a
   * frame to win the latency back (after a burst, or once the target came down); default 25
   * (500 ms). A quiet frame is shed at once; a loud one only after four times as long, so speech
   * is rarely cut.
   */
  readonly trimAfterTicks?: number;
  /**
   * Ticks without a frame as late as the latest one the buffer is sized for, after which it is sized
   * for one frame less (the target depth comes down by one); default 250 (5 s).
   */
  readonly shrinkAfterTicks?: number;
}

/**
 * Frame counters, only ever increasing. Every pushed frame ends up in exactly one of played, late,
 * dropped or duplicate, or is still buffered: framesIn = framesPlayed + framesLate + framesDropped +
 * framesDuplicate + depth. Lost and concealed count output slots, not pushed frames.
 */
export interface TrackBufferStats {
  framesIn: number;
  framesPlayed: number;
  /**
   * Arrived after their slot was played (or the stream moved past them): discarded. A frame whose
   * slot was concealed while nothing played since (it was only late, not lost) is played after all
   * instead, the buffer growing by its lateness: see framesRecovered.
   */
  framesLate: number;
  /** Slots played (or skipped) while playing for which no frame had arrived. */
  framesLost: number;
  /** Buffered frames discarded to stay within capacity, on re-sync or reset; also invalid seqs. */
  framesDropped: number;
  /** Lost slots that were concealed (a subset of framesLost). */
  framesConcealed: number;
  /** Second copies of a frame already buffered: discarded. */
  framesDuplicate: number;
  /**
   * Frames that arrived after their slot had been concealed and were played anyway, the playout
   * moving back to them (a subset of framesPlayed; the concealed slots stay counted as lost).
   */
  framesRecovered: number;
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
 * A per-participant adaptive jitter buffer of canonical frames (FRAME_SAMPLES samples of 16 kHz
 * PCM16), read once per mixer tick. Frames are kept in a window of `capacityFrames` slots starting
 * at the next sequence number to play; a frame beyond the window pushes it forward, dropping the
 * oldest, so latency never exceeds the capacity. After `capacityFrames` consecutive missing slots
 * with nothing buffered the track goes idle and re-primes on its next frame — which may carry any
 * seq, so a participant who leaves and rejoins with seq restarting at 0 plays again.
 *
 * **Depth follows the jitter it measures.** The buffer is pulled once per tick, so it counts the
 * ticks itself. A frame's *arrival offset* is `pulls so far − seq` when it arrives, and the
 * *playout offset* is `pulls so far − next seq to play`: a frame is in time if its arrival offset is
 * at most the playout offset, and waits the difference in ticks. The buffer keeps the playout offset
 * at the *latest* arrival offset of the recent frames (a peak hold: a later frame raises it at once;
 * it comes down by one after `shrinkAfterTicks` ticks without a frame that late), plus
 * prebuffer − 1. It is a maximum, not a spread from the earliest arrival, on purpose: when the
 * mixer stalls and catches up, the frames that piled up meanwhile look early in ticks, which must
 * not count as jitter. For reporting, the *typical* arrival offset is a moving average (gain 1/16,
 * as RFC 3550's jitter) of the first frame to arrive after each pull — later ones between the same
 * two pulls look early only because ticks are behind or a message carried several frames — so that
 * depth = 1 + playout offset − typical offset (what an ordinary frame waits, + 1) and target =
 * 1 + latest − typical.
 *
 * The playout moves with the target:
 * - **Growing, at once.** A frame that arrives after its slot was concealed, while nothing has played
 *   since, is played after all: the playout moves back to it, so the added latency grows by exactly
 *   its lateness and the next delay as long is absorbed (`framesRecovered`; the concealed slots stay
 *   counted as lost). That is the usual case: a frame held up in transit, with the ones behind it
 *   (a WebSocket delivers in order). One that cannot be recovered — a later frame played meanwhile,
 *   or it would take the depth past the capacity — is discarded as late but still raises the
 *   target; the next missing slot while the playout is below the target then waits for its frame
 *   (a concealed slot that does not skip the seq) instead of skipping it: one frame more depth.
 * - **Shrinking, slowly.** When the playout has stayed above the target (it came down after a quiet
 *   spell, or a burst filled the buffer) for `trimAfterTicks` plays, one frame is shed — at once if
 *   it is quiet (peak below −40 dBFS, inaudible), a loud one only after four times as long — and
 *   counted as dropped. One frame at a time: 20 ms less latency per step.
 * - **Capped** at `capacityFrames` (120 ms by default): no recovery beyond it, nor a target.
 *
 * Frames are copied into preallocated slots and the estimator is a handful of numbers: no
 * allocation after construction, and nothing on the per-frame path throws.
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
  /** Consecutive plays after which the playout was still above the target. */
  #excessTicks = 0;
  readonly #shrinkAfter: number;
  /** Pulls so far: the mixer's ticks, the time base of the arrival offsets. */
  #pulls = 0;
  /**
   * The latest recent arrival offset (pulls − seq; −∞ until a frame arrived while playing), and the
   * ticks since a frame was that late.
   */
  #latest = Number.NEGATIVE_INFINITY;
  #latestTicks = 0;
  /** Moving average of the arrival offset of the first frame after each pull (NaN until one). */
  #typical = Number.NaN;
  /** No frame has arrived since the last pull. */
  #firstSincePull = true;
  /**
   * Seqs from here up to #next were skipped as missing slots with nothing played since: a late
   * frame among them can still be played (the playout moves back to it). #recoverFrom ≤ #next.
   */
  #recoverFrom = 0;
  readonly #stats: TrackBufferStats = {
    framesIn: 0,
    framesPlayed: 0,
    framesLate: 0,
    framesLost: 0,
    framesDropped: 0,
    framesConcealed: 0,
    framesDuplicate: 0,
    framesRecovered: 0,
  };

  /** @throws RangeError for invalid options (at setup). */
  constructor(options: TrackBufferOptions = {}) {
    this.#capacity = checkCount('capacityFrames', options.capacityFrames ?? 6, 1);
    this.#prebuffer = checkCount('prebufferFrames', options.prebufferFrames ?? 1, 1);
    if (this.#prebuffer > this.#capacity)
      throw new RangeError('prebufferFrames must not exceed capacityFrames');
    this.#maxConceal = checkCount('maxConcealFrames', options.maxConcealFrames ?? 2, 0);
    this.#resync = checkCount('resyncFrames', options.resyncFrames ?? 50, this.#capacity + 1);
    this.#trimAfter = checkCount('trimAfterTicks', options.trimAfterTicks ?? 25, 1);
    this.#shrinkAfter = checkCount('shrinkAfterTicks', options.shrinkAfterTicks ?? 250, 1);
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
   * The depth the buffer aims at, in frames (prebufferFrames … capacityFrames): enough for the
   * latest frame of the last seconds to be in time. 1 + how many ticks later than an ordinary
   * frame that one came (the jitter), at least the prebuffer.
   */
  get targetFrames(): number {
    return Math.max(this.#prebuffer, this.#frames(this.#target()));
  }

  /**
   * The depth it plays at now, in frames (1 … capacityFrames; 0 when not playing): 1 + the ticks an
   * ordinary frame waits in the buffer. It adds about (depthFrames − 1) × 20 ms, plus the wait for
   * the next tick, to a frame's latency.
   */
  get depthFrames(): number {
    if (this.#phase !== Phase.PLAYING) return 0;
    return this.#frames(this.#pulls - this.#next);
  }

  /** A playout offset as a depth in frames (1 … capacity), against the typical arrival offset. */
  #frames(offset: number): number {
    const frames = 1 + Math.round(offset - this.#typical);
    // NaN (no frame yet) and −∞ (no target yet) both come out as 1.
    return frames > 1 ? Math.min(this.#capacity, frames) : 1;
  }

  /** The playout offset aimed at; −∞ until a frame has arrived while playing. */
  #target(): number {
    return this.#latest + this.#prebuffer - 1;
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
    const offset = this.#pulls - seq;
    if (this.#admit(seq, offset)) this.#store(seq, samples);
    this.#measure(offset);
  }

  /** Decides whether frame `seq` is kept, first restarting or moving the window if it says so. */
  #admit(seq: number, offset: number): boolean {
    if (this.#phase === Phase.IDLE) return this.#restart(seq);
    const ahead = seq - this.#next;
    if (ahead >= this.#resync || ahead <= -this.#resync) return this.#restart(seq);
    if (ahead < 0) {
      if (this.#phase === Phase.PRIMING && this.#newestSeq() < seq + this.#capacity) {
        // Out of order before playback started: the stream starts earlier than we thought.
        this.#next = seq;
        return true;
      }
      if (this.#phase === Phase.PLAYING && this.#recoverable(seq, offset)) {
        // Late, not lost: play it after all. The latency grows by its lateness.
        this.#next = seq;
        this.#missing = 0;
        this.#lateRun = 0;
        this.#stats.framesRecovered++;
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
   * A late frame can still be played if its slot and every one after it were skipped as missing
   * with nothing played since, and moving the playout back to it keeps the depth within the capacity.
   */
  #recoverable(seq: number, offset: number): boolean {
    if (seq < this.#recoverFrom) return false;
    // Played at the next pull: the playout offset becomes its arrival offset.
    if (1 + Math.round(offset - this.#typical) > this.#capacity) return false;
    return this.#newestSeq() < seq + this.#capacity;
  }

  /** Feeds the frame's arrival offset to the typical offset and, while playing, to the latest. */
  #measure(offset: number): void {
    if (this.#firstSincePull) {
      this.#typical = Number.isNaN(this.#typical) ? offset : this.#typical + (offset - this.#typical) / 16;
      this.#firstSincePull = false;
    }
    if (this.#phase !== Phase.PLAYING || offset < this.#latest) return;
    // Raised at once (a frame this late must be in time), renewed by one as late; never beyond
    // what the capacity holds.
    this.#latest = Math.min(offset, Math.round(this.#typical) + this.#capacity - this.#prebuffer);
    this.#latestTicks = 0;
  }

  /** Once per tick: after a quiet spell the buffer is sized for one frame less. */
  #age(): void {
    if (this.#latest > Number.NEGATIVE_INFINITY && ++this.#latestTicks >= this.#shrinkAfter) {
      this.#latest--;
      this.#latestTicks = 0;
    }
  }

  /**
   * Fills `out[0 … FRAME_SAMPLES)` with the next frame (or zeros) and advances by one slot. Call
   * once per 20 ms tick. `out` should hold FRAME_SAMPLES samples.
   */
  pull(out: Int16Array): TrackPull {
    const tick = this.#pulls++;
    this.#firstSincePull = true;
    this.#age();
    if (this.#phase === Phase.PRIMING) {
      this.#primingTicks++;
      // Start once prebuffered, at end of stream, or when a short stream has waited long enough.
      if (this.#depth >= this.#prebuffer || this.#ending || this.#primingTicks > this.#capacity) {
        this.#phase = Phase.PLAYING;
        this.#missing = 0;
        this.#recoverFrom = this.#next;
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
      this.#recoverFrom = this.#next;
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
    // Below the target (a late frame could not be recovered): wait for this frame, one more frame
    // of depth, instead of skipping it.
    if (tick - this.#next >= this.#target()) this.#next++;
    this.#stats.framesLost++;
    if (this.#missing > this.#maxConceal || !this.#hasLast) return silence(out, TrackPull.SILENCE);
    this.#stats.framesConcealed++;
    this.#conceal(out);
    return TrackPull.CONCEALED;
  }

  /**
   * Latency does not stay above the target: when the playout has stayed above it (and at least
   * the prebuffer was still buffered) after each of `trimAfterTicks` plays, the next buffered
   * frame is shed (counted as dropped) if it is quiet, or in any case after four times as long.
   */
  #trimExcess(): void {
    // Before any frame arrived while playing there is no target yet: then, as in steady state a
    // frame arrives just before the tick that plays it, anything buffered beyond prebuffer − 1
    // after a play, tick after tick, is latency to win back.
    const target = this.#target();
    const above = target === Number.NEGATIVE_INFINITY || this.#pulls - this.#next > target;
    if (!above || this.#depth < this.#prebuffer) {
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
    this.#resetEstimate();
  }

  /**
   * Drops what is buffered and starts prebuffering a new stream at `seq`, with a fresh estimate
   * (its offsets have a new origin); returns true (keep it).
   */
  #restart(seq: number): true {
    this.#flush();
    this.#phase = Phase.PRIMING;
    this.#next = seq;
    this.#recoverFrom = seq;
    this.#primingTicks = 0;
    this.#lateRun = 0;
    this.#hasLast = false;
    this.#resetEstimate();
    return true;
  }

  #resetEstimate(): void {
    this.#firstSincePull = true;
    this.#typical = Number.NaN;
    this.#latest = Number.NEGATIVE_INFINITY;
    this.#latestTicks = 0;
    this.#excessTicks = 0;
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
    this.#recoverFrom = newNext;
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
