import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TestModule, TestSpecification } from 'vitest/node';
import ExitWatchdog from './exit-watchdog.js';

const specs = (n: number) => Array.from({ length: n }) as unknown as TestSpecification[];
const ended = (state: string, moduleId = `${state}.test.ts`) =>
  ({ state: () => state, moduleId }) as unknown as TestModule;

/** A watchdog with a 1 s grace period whose exits and lines are recorded instead of acted on. */
function watchdog() {
  const codes: number[] = [];
  const lines: string[] = [];
  const dog = new ExitWatchdog({ graceMs: 1000, exit: (c) => codes.push(c), write: (l) => lines.push(l) });
  return { dog, codes, lines };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('the exit watchdog reporter', () => {
  it('fails the run when Vitest has not finished within the grace period, even if every file passed', () => {
    const { dog, codes, lines } = watchdog();
    dog.onTestRunStart(specs(2));
    dog.onTestModuleEnd(ended('passed'));
    dog.onTestModuleEnd(ended('skipped'));
    vi.advanceTimersByTime(999);
    expect(codes).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(codes).toEqual([1]);
    expect(lines[0]).toBe('all 2 test files ended 1 s ago, but Vitest has not finished.');
    expect(lines).toContainEqual(expect.stringMatching(/^still alive in the main process: /));
    expect(lines.at(-1)).toMatch(/^exiting with status 1: every file passed, but something is still alive/);
  });

  it('fails the run, naming the failed files, when files failed and Vitest has not finished', () => {
    const { dog, codes, lines } = watchdog();
    dog.onTestRunStart(specs(2));
    dog.onTestModuleEnd(ended('passed'));
    dog.onTestModuleEnd(ended('failed'));
    vi.advanceTimersByTime(1000);
    expect(codes).toEqual([1]);
    expect(lines).toContain('failed files: failed.test.ts');
    expect(lines.at(-1)).toMatch(/^exiting with status 1: test files failed/);
  });

  it('does nothing when the run ends normally (Vitest exits with its own status), or while files are still running', () => {
    const finished = watchdog();
    finished.dog.onTestRunStart(specs(1));
    finished.dog.onTestModuleEnd(ended('passed'));
    finished.dog.onTestRunEnd();
    const running = watchdog();
    running.dog.onTestRunStart(specs(2));
    running.dog.onTestModuleEnd(ended('passed'));
    vi.advanceTimersByTime(10_000);
    expect([...finished.codes, ...running.codes, ...finished.lines, ...running.lines]).toEqual([]);
  });

  it('waits from the last file of a new run', () => {
    const { dog, codes } = watchdog();
    dog.onTestRunStart(specs(1));
    dog.onTestModuleEnd(ended('failed'));
    dog.onTestRunEnd();
    // A second run (watch mode) counts its own files: the grace period starts when they have all ended.
    dog.onTestRunStart(specs(1));
    vi.advanceTimersByTime(5000);
    expect(codes).toEqual([]);
    dog.onTestModuleEnd(ended('passed'));
    vi.advanceTimersByTime(1000);
    expect(codes).toEqual([1]);
  });
});

describe('the exit watchdog reporter, when Vitest exits on its own', () => {
  /** A watchdog whose view of the process's live resources the test sets. */
  function watched(atStart: string[]) {
    let alive = atStart;
    const lines: string[] = [];
    const codes: number[] = [];
    const exitListeners: ((code: number) => void)[] = [];
    const dog = new ExitWatchdog({
      write: (l) => lines.push(l),
      resources: () => alive,
      setExitCode: (c) => codes.push(c),
      onExit: (listener) => exitListeners.push(listener),
    });
    dog.onInit();
    expect(exitListeners).toHaveLength(1);
    return {
      lines,
      codes,
      /** The process exits with `code`. */
      exit: (code: number) => {
        for (const listener of exitListeners) listener(code);
      },
      nowAlive: (kinds: string[]) => {
        alive = kinds;
      },
    };
  }

  it('turns an exit with status 0 into 1 when more is alive than when the run started', () => {
    const w = watched(['PipeWrap', 'PipeWrap']);
    w.nowAlive(['PipeWrap', 'PipeWrap', 'TCPServerWrap', 'Timeout', 'Timeout']);
    w.exit(0);
    expect(w.codes).toEqual([1]);
    expect(w.lines[0]).toBe(
      'Vitest is exiting with status 0, but something is still alive: TCPServerWrap, Timeout ×2',
    );
  });

  it('leaves an exit alone when only what was there at the start is alive, or when it already fails', () => {
    const clean = watched(['TTYWrap', 'TTYWrap']);
    clean.exit(0);
    const failing = watched([]);
    failing.nowAlive(['TCPServerWrap']);
    failing.exit(1);
    expect([...clean.codes, ...clean.lines, ...failing.codes, ...failing.lines]).toEqual([]);
  });
});
