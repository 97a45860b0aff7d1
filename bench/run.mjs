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
 *
 * The code is in bench/lib/run/: options.mjs (this command line), main.mjs (the orchestration),
 * load.mjs (calls and generators), measure.mjs (a window), fanout-phase.mjs and ceiling-phase.mjs
 * (the measurements), child-runs.mjs (the parts run as their own processes); the report is
 * bench/lib/report/ (summary, table, markdown).
 */
import { requireBuild } from './lib/paths.mjs';
import { parseRunOptions } from './lib/run/options.mjs';

const opts = parseRunOptions(process.argv.slice(2));
requireBuild('bench/run.mjs');
// Imported once the options are known good and dist/ is there (the orchestration loads dist/).
const { run } = await import('./lib/run/main.mjs');
process.exit(await run(opts));
