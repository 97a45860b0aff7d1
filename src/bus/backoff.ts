/** Exponential reconnect backoff with jitter; `delayMs` is read by nats.js before each attempt. */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  #attempt = 0;
  delayMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.delayMs = baseMs;
  }

  reset(): void {
    this.#attempt = 0;
    this.delayMs = this.#jitter(this.#baseMs);
  }

  next(): void {
    this.#attempt++;
    this.delayMs = this.#jitter(Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(this.#attempt - 1, 16)));
  }

  #jitter(ms: number): number {
    return Math.round(ms * (0.75 + Math.random() * 0.5));
  }
}
