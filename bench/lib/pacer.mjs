/**
 * Deadline pacing for load generators and baseline servers: `fn(slot)` runs every `periodMs` for
 * each of `slots` phase-shifted slots, at deadlines computed from performance.now() (so timer
 * lateness never accumulates). After a stall it catches up at most `maxCatchUp` periods per slot and
 * skips the rest. Records how late each run was.
 */
export class Pacer {
  #timer;
  #next = [];
  #fn;
  #periodMs;
  #maxCatchUp;
  runs = 0;
  skipped = 0;
  lateMaxMs = 0;
  /** Runs more than 5 ms after their deadline. */
  lateRuns = 0;

  constructor({ slots = 1, periodMs = 20, maxCatchUp = 5 }, fn) {
    this.slots = slots;
    this.#periodMs = periodMs;
    this.#maxCatchUp = maxCatchUp;
    this.#fn = fn;
  }

  get running() {
    return this.#timer !== undefined;
  }

  start() {
    // No slot (a generator with nothing to pace): nothing to run, and no timer of Infinity ms.
    if (this.#timer || this.slots === 0) return;
    const t0 = performance.now() + 2;
    this.#next = Array.from({ length: this.slots }, (_, i) => t0 + (i * this.#periodMs) / this.slots);
    this.#schedule();
  }

  stop() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  resetStats() {
    this.runs = this.skipped = this.lateMaxMs = this.lateRuns = 0;
  }

  #schedule() {
    const next = Math.min(...this.#next);
    this.#timer = setTimeout(this.#run, Math.max(0, Math.ceil(next - performance.now())));
  }

  #run = () => {
    const now = performance.now();
    for (let s = 0; s < this.slots; s++) {
      let n = 0;
      while (this.#next[s] <= now && n < this.#maxCatchUp) {
        const late = now - this.#next[s];
        if (late > this.lateMaxMs) this.lateMaxMs = late;
        if (late > 5) this.lateRuns++;
        this.#fn(s, this.#next[s]);
        this.runs++;
        this.#next[s] += this.#periodMs;
        n++;
      }
      if (this.#next[s] <= now) {
        const skip = Math.floor((now - this.#next[s]) / this.#periodMs) + 1;
        this.#next[s] += skip * this.#periodMs;
        this.skipped += skip;
      }
    }
    if (this.#timer) this.#schedule();
  };
}
