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
 *   options: --no-write --out=<file> --repeats=N --window=S --ceiling=1000,2000|none
 *            --profile (the server runs with --cpu-prof; summarize with bench/profile-summary.mjs)
 *            --server-dist=<dir> (the server from another build, e.g. `tsc --outDir`, to compare versions)
 *            --json=<file> (every measurement, raw)
 *            --media-workers=N (the server's EARSHOT_MEDIA_WORKERS; default 0)
 *            --direct-writes=auto|on|off (the server's EARSHOT_DIRECT_WRITES; default auto)
 *            --ceiling-only (just the ceiling steps, as JSON on stdout: used for the media-worker pass)
 *            --no-workers-ceiling (skip that second ceiling pass, with EARSHOT_MEDIA_WORKERS = cores − 1)
 *            --no-cluster (skip the last part: bench/cluster-bench.mjs, the NATS hop between two nodes)
 *            --help (this list); an unknown option is refused (exit 2)
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
