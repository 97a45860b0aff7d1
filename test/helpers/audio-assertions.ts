import { expect } from 'vitest';

/**
 * How far a tone's measured level may stray from what was sent. A quiet machine measures within
 * ±0.3 dB; under heavy load (tests share 2 cores with other suites) a few frames may arrive after
 * their mixing tick and be concealed, which lowers the level over a 1 s window slightly.
 */
export const LEVEL_TOLERANCE_DB = 1.5;

export function expectLevelNear(
  actualDb: number,
  expectedDb: number,
  toleranceDb = LEVEL_TOLERANCE_DB,
): void {
  expect(
    actualDb,
    `level ${actualDb.toFixed(2)} dB, expected ${expectedDb} ± ${toleranceDb}`,
  ).toBeGreaterThan(expectedDb - toleranceDb);
  expect(actualDb, `level ${actualDb.toFixed(2)} dB, expected ${expectedDb} ± ${toleranceDb}`).toBeLessThan(
    expectedDb + toleranceDb,
  );
}

/**
 * A continuous stream delivers one message per 20 ms. Under heavy load the process clock may skip
 * ticks after a long stall (it catches up at most 10), so allow 10% less than the ideal count.
 */
export function expectCadence(messages: number, elapsedMs: number, frameMs = 20): void {
  expect(messages).toBeGreaterThanOrEqual(Math.floor((0.9 * elapsedMs) / frameMs) - 3);
}
