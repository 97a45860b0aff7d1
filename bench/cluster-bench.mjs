#!/usr/bin/env node
/**
 * `node bench/cluster-bench.mjs` — what a NATS hop costs earshot (see docs/operations.md, sizing).
 *
 * Layout, all on 127.0.0.1 and torn down at the end (also on failure or Ctrl-C): a throwaway
 * nats-server on a free port, two `earshot serve` processes (node A, node B) sharing one SQLite
 * file (the database is off the audio path) and that NATS, and this process as the client.
 *
 * 1. Latency. One call; a participant is ingested on node A in real time (PCM16 16 kHz, 20 ms
 *    messages); every 8th message is a marker (a 1 kHz burst; the others are silence). Two `ws`
 *    listeners, one on node A (same node) and one on node B (over NATS), time-stamp the message in
 *    which each marker appears. Latency = arrival − send of that marker's message, same clock, same
 *    run; the NATS hop is the difference between the two listeners, marker by marker.
 * 2. Throughput. `calls` calls × 2 participants ingested on one node, `listeners` byte-counting
 *    listeners on node B. Phase "same node": ingest on node B itself (the baseline); phase "via NATS":
 *    ingest on node A. Each phase reports delivered messages/s vs expected, drops (server metrics),
 *    and the CPU of node A, node B and nats-server (from /proc).
 *
 * Options: --listeners=1000 --calls=10 --latency-s=24 --window-s=15 --quick (tiny, a few seconds).
 * Needs `nats-server` (PATH, /usr/sbin or EARSHOT_BENCH_NATS_SERVER) and a built dist/ (`npm run build`).
 * The code is in bench/lib/cluster/ (main.mjs, one module per phase, report.mjs).
 */
import { commandLine } from './lib/cli.mjs';
import { requireBuild } from './lib/paths.mjs';

const USAGE = `usage: node bench/cluster-bench.mjs [options]        (npm run bench:cluster -- [options])

  --quick            tiny counts, a few seconds
  --listeners=N      listeners on node B in the throughput phases (default 1000; --quick 50)
  --calls=N          calls ingesting in the throughput phases (default 10; --quick 2)
  --latency-s=S      seconds of latency markers (default 24; --quick 4)
  --window-s=S       seconds per throughput window (default 15; --quick 3)
  --help             this text`;

const cl = commandLine(process.argv.slice(2), {
  script: 'bench/cluster-bench.mjs',
  usage: USAGE,
  options: {
    quick: { type: 'boolean' },
    listeners: { type: 'string' },
    calls: { type: 'string' },
    'latency-s': { type: 'string' },
    'window-s': { type: 'string' },
  },
});
const quick = cl.values.quick ?? false;
const sizes = {
  quick,
  listeners: cl.number('listeners', quick ? 50 : 1000, { min: 1 }),
  calls: cl.number('calls', quick ? 2 : 10, { min: 1 }),
  latencyS: cl.number('latency-s', quick ? 4 : 24, { min: 1, integer: false }),
  windowS: cl.number('window-s', quick ? 3 : 15, { min: 0.1, integer: false }),
};
requireBuild('bench/cluster-bench.mjs');
// Imported once the options are known good and dist/ is there (the phases load dist/).
const { run } = await import('./lib/cluster/main.mjs');
process.exit(await run(sizes));
