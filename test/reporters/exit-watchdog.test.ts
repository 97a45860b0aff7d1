import { describe, expect, it } from 'vitest';
import type { TestModule, TestSpecification } from 'vitest/node';
import ExitWatchdog from './exit-watchdog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const specs = (n: number) => Array.from({ length: n }) as unknown as TestSpecification[];
const ended = (state: string, moduleId = `${state}.test.ts`) =>
  ({ state: () => state, moduleId }) as unknown as TestModule;

describe('the exit watchdog reporter', () => {
  it("exits with the files' verdict when Vitest has not finished within the grace period", async () => {
    const codes: number[] = [];
    const passing = new ExitWatchdog({ graceMs: 30, exit: (c) => codes.push(c) });
    passing.onTestRunStart(specs(2));
    passing.onTestModuleEnd(ended('passed'));
    passing.onTestModuleEnd(ended('skipped'));
    const failing = new ExitWatchdog({ graceMs: 30, exit: (c) => codes.push(c) });
    failing.onTestRunStart(specs(2));
    failing.onTestModuleEnd(ended('passed'));
    failing.onTestModuleEnd(ended('failed'));
    await sleep(100);
    expect(codes).toEqual([0, 1]);
  });

  it('does nothing when the run ends normally, or while files are still running', async () => {
    const codes: number[] = [];
    const finished = new ExitWatchdog({ graceMs: 30, exit: (c) => codes.push(c) });
    finished.onTestRunStart(specs(1));
    finished.onTestModuleEnd(ended('passed'));
    finished.onTestRunEnd();
    const running = new ExitWatchdog({ graceMs: 30, exit: (c) => codes.push(c) });
    running.onTestRunStart(specs(2));
    running.onTestModuleEnd(ended('passed'));
    await sleep(100);
    expect(codes).toEqual([]);
  });
});
