import { execFileSync } from 'node:child_process';
import type { Reporter, TestModule, TestSpecification } from 'vitest/node';

/**
 * Guards `npm test` against a known Vitest 4 failure (vitest-dev/vitest#10162): every test file
 * finishes and reports, but the run never reaches its summary and the process never exits, so CI
 * waits for its own time limit. Once the last file has ended, this reporter gives Vitest
 * {@link GRACE_MS} to finish on its own; if it has not, it prints what is still alive (for the
 * record) and exits with the verdict the files already reported: 0 if every file passed, else 1.
 * A normal run ends well inside the grace period and this reporter prints nothing.
 */
const GRACE_MS = 60_000;

export default class ExitWatchdog implements Reporter {
  readonly #graceMs: number;
  readonly #exit: (code: number) => void;
  private expected = 0;
  private ended = 0;
  private failed: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  /** `graceMs` and `exit` are for its own test; Vitest constructs it with neither. */
  constructor(options: { graceMs?: number; exit?: (code: number) => void } = {}) {
    this.#graceMs = options.graceMs ?? GRACE_MS;
    this.#exit = options.exit ?? ((code) => process.exit(code));
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
    const write = (line: string) => process.stderr.write(`[exit-watchdog] ${line}\n`);
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
    write(`exiting with the files' verdict: ${this.failed.length ? 'FAILED' : 'all passed'}`);
    this.#exit(this.failed.length ? 1 : 0);
  }
}
