import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real servers on real ports; keep parallelism modest on 2 cores.
    maxWorkers: 2,
    // The default output, plus a guard against Vitest never exiting after the last file (see the file).
    reporters: ['default', './test/reporters/exit-watchdog.ts'],
  },
});
