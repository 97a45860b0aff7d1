/**
 * bench/run.mjs's ingest cost per family: bench/ingest-families.mjs run as its own process after
 * everything else has stopped (so that it never shares the CPU with the other parts), its figures
 * added to the report that run wrote — rows at the end of the results table, a section of its own
 * (bench/lib/report/ingest-families.mjs) — and to the --json file, its table printed.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { benchFile, ROOT } from './paths.mjs';
import { addToReport, ingestFamilyTable } from './report/ingest-families.mjs';
import { log } from './run/log.mjs';

/** The option bench/run.mjs takes for it (bench/lib/run/options.mjs knows nothing of it). */
export const SKIP_FLAG = '--no-ingest-families';
export const USAGE_LINE = `  ${SKIP_FLAG.padEnd(24)} skip the ingest cost per family (bench/ingest-families.mjs)`;

/** When `file` was last written (0: not there), to tell whether the run rewrote it. */
export const mtimeOf = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

/** Runs bench/ingest-families.mjs: { result } or { error }. */
function runChild(quick) {
  const args = [benchFile('ingest-families.mjs'), ...(quick ? ['--quick'] : [])];
  log(`ingest families: bench/ingest-families.mjs ${quick ? '--quick ' : ''}…`);
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      args,
      { cwd: ROOT, timeout: (quick ? 150 : 660) * 1000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        process.off('exit', kill);
        if (err) {
          const why = `${stderr ?? ''}`.trim().split('\n').at(-1) || err.message;
          resolve({ error: `ingest families failed: ${why}` });
          return;
        }
        try {
          resolve({ result: JSON.parse(stdout.trim().split('\n').at(-1)) });
        } catch (e) {
          resolve({ error: `ingest families printed no result: ${e.message}` });
        }
      },
    );
    // Its progress lines go where bench/run.mjs's go.
    child.stderr.on('data', (d) => process.stderr.write(d));
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
  });
}

/**
 * The part, after `run(opts)` has written its report: `enabled` false → skipped. `written` =
 * { report, json }: the mtimes of opts.outFile and opts.jsonFile before the run, so that only files
 * this run wrote are touched. Resolves with an exit code (1 when the part failed).
 */
export async function ingestFamiliesPart(opts, enabled, written) {
  // A run that failed before its report was written (the single-node part) has nothing to add to.
  const failedEarly = opts.write && mtimeOf(opts.outFile) === written.report;
  const part = !enabled
    ? { skipped: `skipped (${SKIP_FLAG})` }
    : failedEarly
      ? { skipped: 'not run (the run failed before writing its report)' }
      : await runChild(opts.quick);
  process.stdout.write(`\nIngest cost per family (bench/ingest-families.mjs)\n${ingestFamilyTable(part)}\n`);
  if (opts.write && mtimeOf(opts.outFile) !== written.report) {
    writeFileSync(opts.outFile, addToReport(readFileSync(opts.outFile, 'utf8'), part));
    log(`added the ingest cost per family to ${path.relative(ROOT, opts.outFile)}`);
  }
  if (opts.jsonFile && mtimeOf(opts.jsonFile) !== written.json) {
    const all = JSON.parse(readFileSync(opts.jsonFile, 'utf8'));
    all.ingestFamilies = part;
    writeFileSync(opts.jsonFile, `${JSON.stringify(all, null, 2)}\n`);
  }
  if (part.error) {
    console.error(`bench: ${part.error}`);
    return 1;
  }
  return 0;
}
