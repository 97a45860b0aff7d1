import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { CliError } from './cli-error.js';

/** bench/run.mjs, from the package root (two levels above dist/cli/ or src/cli/). */
const BENCH = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));

/**
 * `earshot bench [options]`: the live-audio benchmark (docs/benchmarks.md), run as its own process
 * with the options passed through — `--quick` for a smoke run, `--no-write` to leave the docs alone;
 * the full list is at the top of bench/run.mjs.
 */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('Run the benchmark (docs/benchmarks.md); options go to bench/run.mjs, e.g. --quick')
    .argument('[options...]', 'e.g. --quick, --no-write, --repeats=1, --ceiling=1000,2000, --no-cluster')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (options: string[]) => {
      if (!existsSync(BENCH))
        throw new CliError('the benchmark ships with the source repository (bench/run.mjs is not here)');
      const child = spawn(process.execPath, [BENCH, ...options], { stdio: 'inherit' });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) =>
        child.once('exit', (c, signal) => resolve(c ?? (signal ? 130 : 1))),
      );
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      if (code !== 0) throw new CliError(`the benchmark failed (exit ${code})`, code);
    });
}
