import { defineConfig } from 'vitest/config';

/**
 * Tests that measure the audio's timing (a bystander call must hear no gap over 100 ms while the
 * test attacks the server) run alone, after everything else: on 2 cores, another test file's
 * servers running beside them would be the load they measure.
 */
const REALTIME = ['test/realtime/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The default output, plus a guard against Vitest never exiting after the last file (see the file).
    reporters: ['default', './test/reporters/exit-watchdog.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: REALTIME,
          // Integration tests start real servers on real ports; keep parallelism modest on 2 cores.
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'realtime', include: REALTIME, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
