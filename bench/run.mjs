#!/usr/bin/env node
/**
 * `npm run bench` — earshot's live-audio benchmark (see docs/benchmarks.md for what it measures).
 *
 * Process layout: this orchestrator (idle during measurements) spawns the server under test
 * (`node bin/earshot.js serve`, its own process, measured from /proc and /metrics), a bulk load
 * generator (raw-socket ingest and byte-counting listeners), a probe generator (`ws` clients: latency
 * markers and full-parsing listeners) and the two baseline servers. Everything runs on 127.0.0.1,
 * is bounded in count and time, and is torn down at the end, also on failure.
 *
 *   npm run bench                 full run (several minutes), rewrites docs/benchmarks.md
 *   npm run bench -- --quick      smoke run (a few seconds, tiny counts), prints only
 *   npm run bench -- --help       every option (bench/lib/run/options.mjs), among them --calls=N,
 *                                 --media-workers=N, --server-env=EARSHOT_…=…, --profile, --json=<file>
 *   npm run bench -- --no-ingest-families   without the ingest cost per family
 *   npm run bench -- --no-listener-formats  without PCM16 against Opus for listeners
 *   npm run bench -- --no-realtime-isolation  without the API flood and stalled listeners
 *
 * The code is in bench/lib/run/: options.mjs (this command line), main.mjs (the orchestration),
 * load.mjs (calls and generators), measure.mjs (a window), fanout-phase.mjs and ceiling-phase.mjs
 * (the measurements), child-runs.mjs (the parts run as their own processes); the report is
 * bench/lib/report/ (summary, table, markdown). Last, once all that has stopped and the report is
 * written, two parts run as their own processes and are added to it (bench/lib/child-part.mjs):
 * the ingest cost per family (bench/ingest-families.mjs) and PCM16 against Opus for listeners
 * (bench/listener-formats.mjs).
 */
import { mtimeOf } from './lib/child-part.mjs';
import { CHILD_PARTS } from './lib/parts.mjs';
import { requireBuild } from './lib/paths.mjs';
import { parseRunOptions } from './lib/run/options.mjs';

/** Run after everything else, each as its own process, in this order (bench/lib/parts.mjs). */
const PARTS = CHILD_PARTS;
const argv = process.argv.slice(2);
const rest = argv.filter((a) => !PARTS.some((p) => p.skipFlag === a));
// parseRunOptions prints its usage and exits; the parts' options go after it.
if (rest.includes('--help') || rest.includes('-h'))
  process.once('exit', () => process.stdout.write(`${PARTS.map((p) => p.usageLine).join('\n')}\n`));
const opts = parseRunOptions(rest);
requireBuild('bench/run.mjs');
// Imported once the options are known good and dist/ is there (the orchestration loads dist/).
const { run } = await import('./lib/run/main.mjs');
const written = { report: mtimeOf(opts.outFile), json: opts.jsonFile ? mtimeOf(opts.jsonFile) : 0 };
let code = await run(opts);
// The media-worker pass (--ceiling-only) prints only its steps.
if (!opts.ceilingOnly) for (const part of PARTS) code = Math.max(code, await part.run(opts, argv, written));
process.exit(code);
