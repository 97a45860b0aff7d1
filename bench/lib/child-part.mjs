/**
 * A part of bench/run.mjs that runs as its own process after everything else has stopped (so that
 * it never shares the CPU with the other parts): a bench/ script that prints one JSON line last.
 * Its figures are added to the report that run wrote (by the part's `addToReport`) and to the
 * --json file (under `jsonKey`), and its console table is printed.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchFile, ROOT } from './paths.mjs';
import { log } from './run/log.mjs';

/** When `file` was last written (0: not there), to tell whether the run rewrote it. */
export const mtimeOf = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/**
 * `spec`: { title, script (in bench/), skipFlag, jsonKey, timeoutS: { quick, full }, table(part),
 * addToReport(text, part) }. A part is { result } | { error } | { skipped }.
 */
export function childPart(spec) {
  const usageLine = `  ${spec.skipFlag.padEnd(24)} skip ${spec.title.toLowerCase()} (bench/${spec.script})`;

  function runChild(quick) {
    const args = [benchFile(spec.script), ...(quick ? ['--quick'] : [])];
    log(`${spec.title}: bench/${spec.script} ${quick ? '--quick ' : ''}…`);
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        args,
        {
          cwd: ROOT,
          timeout: (quick ? spec.timeoutS.quick : spec.timeoutS.full) * 1000,
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) => {
          process.off('exit', kill);
          if (err) {
            const why = `${stderr ?? ''}`.trim().split('\n').at(-1) || err.message;
            resolve({ error: `${spec.title} failed: ${why}` });
            return;
          }
          try {
            resolve({ result: JSON.parse(stdout.trim().split('\n').at(-1)) });
          } catch (e) {
            resolve({ error: `${spec.title} printed no result: ${e.message}` });
          }
        },
      );
      // Its progress lines go where bench/run.mjs's go.
      child.stderr.on('data', (d) => process.stderr.write(d));
      const kill = () => child.kill('SIGKILL');
      process.once('exit', kill);
    });
  }

  return {
    skipFlag: spec.skipFlag,
    usageLine,
    /**
     * Runs the part after `run(opts)` has written its report: `argv` holds the skip flag → skipped.
     * `written` = { report, json }: the mtimes of opts.outFile and opts.jsonFile before the run, so
     * that only files this run wrote are touched. Resolves with an exit code (1 when the part failed).
     */
    async run(opts, argv, written) {
      // A run that failed before its report was written (the single-node part) has nothing to add to.
      const failedEarly = opts.write && mtimeOf(opts.outFile) === written.report;
      const part = argv.includes(spec.skipFlag)
        ? { skipped: `skipped (${spec.skipFlag})` }
        : failedEarly
          ? { skipped: 'not run (the run failed before writing its report)' }
          : await runChild(opts.quick);
      process.stdout.write(`\n${spec.title} (bench/${spec.script})\n${spec.table(part)}\n`);
      if (opts.write && mtimeOf(opts.outFile) !== written.report) {
        writeFileSync(opts.outFile, spec.addToReport(readFileSync(opts.outFile, 'utf8'), part));
        log(`added ${spec.title.toLowerCase()} to ${path.relative(ROOT, opts.outFile)}`);
      }
      if (opts.jsonFile && mtimeOf(opts.jsonFile) !== written.json) {
        const all = JSON.parse(readFileSync(opts.jsonFile, 'utf8'));
        all[spec.jsonKey] = part;
        writeFileSync(opts.jsonFile, `${JSON.stringify(all, null, 2)}\n`);
      }
      if (part.error) {
        console.error(`bench: ${part.error}`);
        return 1;
      }
      return 0;
    },
  };
}
