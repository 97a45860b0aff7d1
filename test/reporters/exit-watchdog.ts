import { execFileSync } from 'node:child_process';
import type { Reporter, TestModule, TestSpecification } from 'vitest/node';

/**
 * Guards `npm test` against a run that never ends: every test file finishes and reports, but the
 * run never reaches its summary and the process never exits, so CI would wait for its own time
 * limit. A handle the project left open (a server, a socket, a timer, a child process) does that,
 * and so does a known Vitest 4 failure (vitest-dev/vitest#10162). Once the last file has ended,
 * this reporter gives Vitest {@link GRACE_MS} to finish on its own; if it has not, it prints what
 * is still alive and exits with status 1 — even when every file passed: a leak is a failure, and
 * only a run that Vitest itself finishes (with its own exit status) can be green. A normal run
 * ends well inside the grace period and this reporter prints nothing.
 *
 * Vitest 4 has a way out of its own that is green: when closing takes over 10 s because something
 * in its process is still alive ("Tests closed successfully but something prevents Vite server from
 * exiting"), it exits with status 0. So, when the process exits with 0, this reporter compares what
 * is still alive with what was alive when the run started (stdio pipes or terminals); anything more
 * is named and the exit status becomes 1.
 */
const GRACE_MS = 60_000;

export default class ExitWatchdog implements Reporter {
  readonly #graceMs: number;
  readonly #exit: (code: number) => void;
  readonly #write: (line: string) => void;
  readonly #resources: () => string[];
  readonly #setExitCode: (code: number) => void;
  readonly #onExit: (listener: (code: number) => void) => void;
  /** What was alive in the process when the run started, by kind (see getActiveResourcesInfo). */
  #baseline = new Map<string, number>();
  private expected = 0;
  private ended = 0;
  private failed: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** The options are for its own test; Vitest constructs it with none. */
  constructor(
    options: {
      graceMs?: number;
      exit?: (code: number) => void;
      /** Prints a line (stderr). */
      write?: (line: string) => void;
      /** What is alive in the process (process.getActiveResourcesInfo). */
      resources?: () => string[];
      /** Changes the status of an exit under way (process.exitCode). */
      setExitCode?: (code: number) => void;
      /** Registers a listener for the process's exit. */
      onExit?: (listener: (code: number) => void) => void;
    } = {},
  ) {
    this.#graceMs = options.graceMs ?? GRACE_MS;
    this.#exit = options.exit ?? ((code) => process.exit(code));
    this.#write = options.write ?? ((line) => process.stderr.write(`[exit-watchdog] ${line}\n`));
    this.#resources = options.resources ?? (() => process.getActiveResourcesInfo());
    this.#setExitCode =
      options.setExitCode ??
      ((code) => {
        process.exitCode = code;
      });
    this.#onExit = options.onExit ?? ((listener) => process.once('exit', listener));
  }

  onInit(): void {
    this.#baseline = countKinds(this.#resources());
    this.#onExit((code) => this.onProcessExit(code));
  }

  /**
   * The process is exiting with `code`: a 0 while more is alive than when the run started means
   * Vitest gave up waiting for something the tests left open, and the status becomes 1.
   */
  onProcessExit(code: number): void {
    if (code !== 0) return;
    const left: string[] = [];
    for (const [kind, count] of countKinds(this.#resources())) {
      const extra = count - (this.#baseline.get(kind) ?? 0);
      if (extra > 0) left.push(extra > 1 ? `${kind} ×${extra}` : kind);
    }
    if (left.length === 0) return;
    this.#write(`Vitest is exiting with status 0, but something is still alive: ${left.join(', ')}`);
    this.#write('exiting with status 1 instead (a leaked handle is a failure)');
    this.#setExitCode(1);
  }

  onTestRunStart(specifications: ReadonlyArray<TestSpecification>): void {
    this.expected = specifications.length;
    this.ended = 0;
    this.failed = [];
  }

  onTestModuleEnd(testModule: TestModule): void {
    this.ended += 1;
    const state = testModule.state();
    if (state !== 'passed' && state !== 'skipped') this.failed.push(testModule.moduleId);
    if (this.ended === this.expected) this.arm();
  }

  onTestRunEnd(): void {
    clearTimeout(this.timer);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.giveUp(), this.#graceMs);
    this.timer.unref();
  }

  private giveUp(): void {
    const write = this.#write;
    write(
      `all ${this.expected} test files ended ${this.#graceMs / 1000} s ago, but Vitest has not finished.`,
    );
    write(`still alive in the main process: ${process.getActiveResourcesInfo().join(', ')}`);
    try {
      const tree = execFileSync('ps', [
        '-o',
        'pid,ppid,stat,etime,wchan:24,args',
        '--ppid',
        String(process.pid),
      ]);
      write(`child processes:\n${tree.toString()}`);
    } catch {
      write('child processes: none');
    }
    if (this.failed.length) write(`failed files: ${this.failed.join(', ')}`);
    write(
      this.failed.length
        ? 'exiting with status 1: test files failed, and the run did not finish'
        : 'exiting with status 1: every file passed, but something is still alive, so the run did not finish (a leaked handle is a failure)',
    );
    this.#exit(1);
  }
}

function countKinds(kinds: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}
