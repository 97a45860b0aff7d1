import { expect } from 'vitest';
import { maxLevelExcludingDb, toneLevelDb } from './spectrum.js';
import type { TestListener } from './ws-clients.js';

/**
 * How far a tone's measured level may stray from what was sent. A quiet machine measures within
 * ±0.3 dB; under heavy load (tests share 2 cores with other suites) a few frames may arrive after
 * their mixing tick and be concealed, which lowers the level over a 1 s window slightly.
 */
const LEVEL_TOLERANCE_DB = 1.5;

/** `context`: what else a failure message should tell (e.g. the jitter buffers' counters). */
export function expectLevelNear(
  actualDb: number,
  expectedDb: number,
  toleranceDb = LEVEL_TOLERANCE_DB,
  context = '',
): void {
  const message = `level ${actualDb.toFixed(2)} dB, expected ${expectedDb} ± ${toleranceDb}${context && `; ${context}`}`;
  expect(actualDb, message).toBeGreaterThan(expectedDb - toleranceDb);
  expect(actualDb, message).toBeLessThan(expectedDb + toleranceDb);
}

/**
 * A continuous stream delivers one message per 20 ms. Under heavy load the process clock may skip
 * ticks after a long stall (it catches up at most 10), so allow 10% less than the ideal count.
 */
export function expectCadence(messages: number, elapsedMs: number, frameMs = 20): void {
  expect(messages).toBeGreaterThanOrEqual(Math.floor((0.9 * elapsedMs) / frameMs) - 3);
}

/**
 * The levels of two tones and of everything else in the 0.5 s window (stepping by 100 ms) where
 * both are loudest together. Two participants' audio travels separate paths (sockets, nodes); on a
 * loaded machine one may start a few hundred ms after the other or lose a few frames to the jitter
 * buffer, and a window fixed in advance could catch that instead of the mix.
 */
export function bestTwoToneWindow(
  listener: TestListener,
  rateHz: number,
  [f1, f2]: readonly [number, number],
): { tone1: number; tone2: number; others: number } {
  let best = { tone1: -Infinity, tone2: -Infinity, others: Infinity };
  for (let i = 0; i + 25 <= listener.binary.length; i += 5) {
    const window = listener.samples(i, i + 25);
    const tone1 = toneLevelDb(window, rateHz, f1);
    const tone2 = toneLevelDb(window, rateHz, f2);
    if (Math.min(tone1, tone2) > Math.min(best.tone1, best.tone2))
      best = { tone1, tone2, others: maxLevelExcludingDb(window, rateHz, [f1, f2]) };
  }
  return best;
}
