/**
 * Who is speaking (SPEC §3, `events=1`: `{"type":"speaking","name":…,"state":"start|stop"}`): a
 * per-participant voice-activity detector on the 20 ms frames the mixer already has. Energy with
 * hysteresis, not a speech classifier — what a "speaking" light in a dashboard needs:
 *
 * - a frame is **loud** when its RMS is at least START_DBFS and START_ABOVE_FLOOR_DB above the
 *   noise floor, **quiet** when below STOP_DBFS or within STOP_ABOVE_FLOOR_DB of the floor;
 *   between the two it keeps the current state (hysteresis);
 * - speech **starts** after START_FRAMES loud frames in a row (60 ms: a click does not start it)
 *   and **stops** after STOP_FRAMES quiet frames in a row (400 ms: the pauses between words do not
 *   stop it);
 * - the **noise floor** follows the quietest recent level: down at once, up by FLOOR_RISE_DB per
 *   frame (5 dB/s), so a steady hum or line noise stops counting as speech within seconds (~6 s
 *   for a hum 35 dB over the floor), while speech, whose pauses pull the floor back down, keeps
 *   counting.
 *
 * Pure and allocation-free: one `update` per frame (`null` for a frame with no audio).
 */
export const START_DBFS = -42;
export const STOP_DBFS = -48;
export const START_ABOVE_FLOOR_DB = 12;
export const STOP_ABOVE_FLOOR_DB = 6;
export const START_FRAMES = 3;
export const STOP_FRAMES = 20;
const FLOOR_RISE_DB = 0.1;
const INITIAL_FLOOR_DBFS = -70;
const SILENCE_DBFS = -120;

export type VoiceTransition = 'start' | 'stop' | null;

/** RMS level of PCM16 samples in dBFS (full-scale sine ≈ −3 dBFS); −120 for silence or none. */
export function rmsDbfs(samples: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  if (sum === 0 || samples.length === 0) return SILENCE_DBFS;
  return Math.max(SILENCE_DBFS, 10 * Math.log10(sum / samples.length / (32768 * 32768)));
}

export class VoiceActivity {
  #speaking = false;
  #run = 0;
  #floor = INITIAL_FLOOR_DBFS;

  get speaking(): boolean {
    return this.#speaking;
  }

  /** The noise floor in dBFS, as estimated so far. */
  get floorDbfs(): number {
    return this.#floor;
  }

  /** Takes the next 20 ms frame (null: nothing was heard); returns the transition it causes, if any. */
  update(frame: Int16Array | null): VoiceTransition {
    const level = frame === null ? SILENCE_DBFS : rmsDbfs(frame);
    const loud = level >= START_DBFS && level >= this.#floor + START_ABOVE_FLOOR_DB;
    const quiet = level < STOP_DBFS || level < this.#floor + STOP_ABOVE_FLOOR_DB;
    if (frame !== null) this.#floor = level < this.#floor ? level : this.#floor + FLOOR_RISE_DB;
    if (!this.#speaking) {
      this.#run = loud ? this.#run + 1 : 0;
      if (this.#run < START_FRAMES) return null;
      this.#speaking = true;
      this.#run = 0;
      return 'start';
    }
    this.#run = quiet ? this.#run + 1 : 0;
    if (this.#run < STOP_FRAMES) return null;
    this.#speaking = false;
    this.#run = 0;
    return 'stop';
  }
}
