import { FRAME_MS } from '../domain/audio-format.js';

/**
 * When in the 20 ms frame period a call is mixed. The process clock ticks every FRAME_MS /
 * slots ms; each room mixes at one of those `slots` sub-ticks per period (RoomTicker), chosen from
 * when its frames arrive: soon after the last of them, with PHASE_MARGIN_MS in hand. A room mixed
 * at one phase for every call — the process clock's — holds each frame 0–20 ms (10 on average)
 * before mixing it, and a call whose frames arrive just before that phase sees the smallest jitter
 * push one past it: its jitter buffer then grows by a frame (+20 ms) for seconds. Mixed at its own
 * phase, a call's frames wait PHASE_MARGIN_MS to PHASE_MARGIN_MS + a sub-tick, and a jitter of up to
 * the margin is never late.
 */

/** Sub-ticks per frame period a server's mixer clock runs: a call is mixed at one of them. */
export const PHASE_SLOTS = 4;

/**
 * The timing of a server's mixer clock (live/clock.ts): PHASE_SLOTS ticks per frame period, and a
 * catch-up allowance of 10 periods (200 ms) as before the slots.
 */
export const MIXER_CLOCK_TIMING = {
  periodMs: FRAME_MS / PHASE_SLOTS,
  maxCatchUpTicks: 10 * PHASE_SLOTS,
} as const;

/** Time in hand between the last of a call's frames arriving and its mix. */
export const PHASE_MARGIN_MS = 3;
/**
 * How long a frame's arrival counts: a frame that came later than the mix makes the call's jitter
 * buffer hold one frame more (+20 ms) for 5 s (track-buffer.ts, shrinkAfterTicks), so the phase
 * covers every frame of as long, a rare late one too.
 */
const RECENT_MS = 5000;
/** Frames noted before a phase is chosen at all. */
const MIN_FRAMES = 10;

const mod = (x: number, m: number) => ((x % m) + m) % m;

/** When, within the frame period (1 ms bins), a call's frames of the last RECENT_MS arrived. */
export class ArrivalPhases {
  /** Per bin, the last time a frame arrived in it. */
  readonly #lastSeen = new Float64Array(FRAME_MS).fill(Number.NEGATIVE_INFINITY);
  #frames = 0;
  #latestMs = Number.NEGATIVE_INFINITY;

  /** A frame arrived at `nowMs` (any monotonic ms clock, the one the sub-ticks are placed on). */
  note(nowMs: number): void {
    this.#lastSeen[Math.floor(mod(nowMs, FRAME_MS))] = nowMs;
    this.#frames++;
    this.#latestMs = nowMs;
  }

  /**
   * The slot (of `slots` sub-ticks per period, slot 0 at `slot0PhaseMs` = its time mod the period)
   * that mixes soonest after every frame of the last RECENT_MS has arrived, with PHASE_MARGIN_MS in
   * hand: `current` unless another is at least a millisecond sooner, or too few frames arrived.
   */
  bestSlot(slot0PhaseMs: number, slots: number, current: number): number {
    if (this.#frames < MIN_FRAMES || slots < 2) return current;
    const slotMs = FRAME_MS / slots;
    let best = current;
    let bestWait = this.#worstWait(slot0PhaseMs + current * slotMs);
    for (let slot = 0; slot < slots; slot++) {
      const wait = this.#worstWait(slot0PhaseMs + slot * slotMs);
      if (wait < bestWait - 1) {
        best = slot;
        bestWait = wait;
      }
    }
    return best;
  }

  /** The longest a recent frame waits past its margin for a mix at `tickPhaseMs`. */
  #worstWait(tickPhaseMs: number): number {
    const since = this.#latestMs - RECENT_MS;
    let worst = 0;
    for (let b = 0; b < this.#lastSeen.length; b++) {
      if (this.#lastSeen[b] < since) continue;
      // The bin's latest arrival is its upper edge.
      worst = Math.max(worst, mod(tickPhaseMs - (b + 1) - PHASE_MARGIN_MS, FRAME_MS));
    }
    return worst;
  }
}
