import { RateLimiterMemory } from 'rate-limiter-flexible';
import { AppError } from '../domain/app-error.js';
import type { Metrics } from '../observability/metrics.js';
import { addressKey } from './client-address.js';

const WINDOW_S = 60;

/**
 * Failed authentications per client address (SPEC §2): wrong, unknown or missing API keys, admin or
 * metrics tokens, forged listen and ingest tokens. An address that failed more than `perMinute`
 * times in the current minute gets 429 `RATE_LIMITED` (with `retry-after`) for the rest of it —
 * before any credential is looked up, so guessing costs no database read. Counted per node, in
 * memory (rate-limiter-flexible), by `addressKey` (IPv6 per /64). Other addresses are unaffected.
 */
export class AuthFailureLimiter {
  readonly #limiter: RateLimiterMemory;
  readonly #perMinute: number;
  readonly #metrics: Metrics;

  constructor(perMinute: number, metrics: Metrics) {
    this.#perMinute = perMinute;
    this.#metrics = metrics;
    this.#limiter = new RateLimiterMemory({ points: perMinute, duration: WINDOW_S });
  }

  /** Throws RATE_LIMITED when the address has used up its failures; run before any lookup. */
  async check(address: string): Promise<void> {
    const state = await this.#limiter.get(addressKey(address));
    if (state === null || state.consumedPoints < this.#perMinute) return;
    this.#metrics.authFailures.inc({ outcome: 'limited' });
    const retryAfterS = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    throw new AppError(
      'RATE_LIMITED',
      `Too many failed authentications from this address; retry in ${retryAfterS} s`,
      { headers: { 'retry-after': String(retryAfterS) } },
    );
  }

  /**
   * Runs `authenticate` for a client of `address`: refused at once (RATE_LIMITED) while the address
   * is limited, and an UNAUTHORIZED refusal of `authenticate` counts as one more failure.
   */
  async guard<T>(address: string, authenticate: () => Promise<T>): Promise<T> {
    await this.check(address);
    try {
      return await authenticate();
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHORIZED') this.recordFailure(address);
      throw err;
    }
  }

  /** Counts one failed authentication of the address. */
  recordFailure(address: string): void {
    this.#metrics.authFailures.inc({ outcome: 'failed' });
    // Past the limit the limiter rejects (RateLimiterRes): the count is kept all the same.
    this.#limiter.consume(addressKey(address)).catch(() => {});
  }
}
