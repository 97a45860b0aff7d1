#!/usr/bin/env node
/**
 * A connection storm (issue 11): `--calls` live two-party μ-law calls ingesting in real time, then
 * `--listeners` listeners spread over them connect all at once (no client-side pacing), from
 * `--listener-procs` load-generator processes. Measures how long until every listener was admitted
 * (its 101 arrived), then whether each receives the stream at full rate over a window, and how many
 * the server closed. Prints one JSON line last (bench/run.mjs reads it).
 *
 *   node bench/storm.mjs [--listeners=5000] [--calls=200] [--listener-procs=N] [--media-workers=N|auto]
 *                        [--window=5] [--quick]
 */
import os from 'node:os';
import { apiClient } from './lib/api.mjs';
import { commandLine } from './lib/cli.mjs';
import { freshServer } from './lib/earshot-server.mjs';
import { scrape } from './lib/prom.mjs';
import { createCalls, forkChild, HOST, ingestCalls } from './lib/run/load.mjs';
import { log } from './lib/run/log.mjs';
import { percentile } from './lib/stats.mjs';
import { runPrintingJson } from './lib/teardown.mjs';

const USAGE = `usage: node bench/storm.mjs [--listeners=N] [--calls=N] [--listener-procs=N] [--media-workers=N|auto] [--window=S] [--quick]`;
/** The default listener stream: 50 messages/s of 640 bytes of PCM16 plus a 4-byte frame header. */
const STREAM_BYTES_PER_S = 50 * 644;
/** A listener not admitted by then counts as failed. */
const CONNECT_TIMEOUT_MS = 60_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs one storm; resolves with its figures. */
export async function storm({ listeners, calls: callCount, listenerProcs, mediaWorkers, windowS }) {
  const { server, port, apiKey } = await freshServer({ name: 'storm', mediaWorkers });
  const api = apiClient(server.base, apiKey);
  const calls = await createCalls(api, callCount);
  // Both participants of every call ingest from a generator of their own, before the storm.
  const ingest = forkChild('load-generator.mjs');
  const ing = await ingestCalls(ingest, port, calls);
  if (ing.failed) throw new Error(`ingest connect failed: ${ing.firstError}`);
  await ingest.call('ingestStart');
  const generators = Array.from({ length: listenerProcs }, () => forkChild('load-generator.mjs'));
  await sleep(1000);
  log(`storm: ${listeners} listeners over ${calls.length} live calls from ${listenerProcs} process(es) …`);
  const shares = generators.map((_, g) => {
    const paths = [];
    for (let i = g; i < listeners; i += generators.length) paths.push(calls[i % calls.length].listenPath);
    return paths;
  });
  const started = performance.now();
  const opened = await Promise.all(
    generators.map((lg, g) =>
      lg.call('listen', {
        host: HOST,
        port,
        group: 'storm',
        paths: shares[g],
        concurrency: shares[g].length,
        timeoutMs: CONNECT_TIMEOUT_MS,
      }),
    ),
  );
  const allMs = performance.now() - started;
  const admitted = opened.flatMap((r) => r.admittedMs).sort((a, b) => a - b);
  const connected = opened.flatMap((r) => r.connectedMs).sort((a, b) => a - b);
  const failed = opened.reduce((n, r) => n + r.failed, 0);
  log(`storm: ${admitted.length} admitted in ${(allMs / 1000).toFixed(1)} s, ${failed} failed`);
  await sleep(1000);
  const droppedBefore =
    (await scrape(server.base)).get('earshot_frames_dropped_total{reason="listener_backlog"}') ?? 0;
  const windowFrom = Date.now();
  const rates = await Promise.all(
    generators.map((lg) =>
      lg.call('rates', { group: 'storm', windowMs: windowS * 1000, bytesPerS: STREAM_BYTES_PER_S }),
    ),
  );
  const windowTo = Date.now();
  const full = rates.reduce((n, r) => n + r.full, 0);
  const droppedInWindow =
    ((await scrape(server.base)).get('earshot_frames_dropped_total{reason="listener_backlog"}') ?? 0) -
    droppedBefore;
  const closed = rates.reduce((n, r) => n + r.closed, 0);
  return {
    listeners,
    calls: calls.length,
    listenerProcs,
    mediaWorkers,
    admitted: admitted.length,
    failed,
    firstError: opened.find((r) => r.firstError)?.firstError ?? null,
    allAdmittedS: failed === 0 ? allMs / 1000 : null,
    admittedP50S: percentile(admitted, 0.5) / 1000,
    admittedP99S: percentile(admitted, 0.99) / 1000,
    /** When TCP connected (before the upgrade): the kernel's share of the wait. */
    connectedP99S: percentile(connected, 0.99) / 1000,
    connectedMaxS: (connected.at(-1) ?? 0) / 1000,
    fullRate: full,
    closed,
    droppedInWindow,
    evicted: server.logs.evicted,
    skippedTicks: server.logs.skippedTicks,
    /** Of those, reported during the rate window. */
    skippedInWindow: server.logs.skips.reduce(
      (n, [at, ticks]) => (at >= windowFrom && at <= windowTo ? n + ticks : n),
      0,
    ),
    skipTimesS: server.logs.skips.map(([at, ticks]) => [Math.round(at - windowFrom) / 1000, ticks]),
    other: server.logs.other,
    windowS,
    minShare: Math.min(...rates.map((r) => r.minShare)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cl = commandLine(process.argv.slice(2), {
    script: 'bench/storm.mjs',
    usage: USAGE,
    options: {
      listeners: { type: 'string' },
      calls: { type: 'string' },
      'listener-procs': { type: 'string' },
      'media-workers': { type: 'string' },
      window: { type: 'string' },
      quick: { type: 'boolean' },
    },
  });
  const quick = cl.values.quick ?? false;
  const workersArg = cl.values['media-workers'] ?? 'auto';
  const options = {
    listeners: cl.number('listeners', quick ? 40 : 5000),
    calls: cl.number('calls', quick ? 4 : 200),
    listenerProcs: cl.number('listener-procs', 1),
    mediaWorkers: workersArg === 'auto' ? Math.max(0, os.availableParallelism() - 1) : Number(workersArg),
    windowS: cl.number('window', quick ? 1 : 5, { min: 0.5, integer: false }),
  };
  await runPrintingJson('storm', quick ? 60 : 240, () => storm(options));
}
