#!/usr/bin/env node
/**
 * Capacity (issue 11): how many two-party μ-law 8 kHz calls one node ingests and mixes with no
 * frame concealed, for each number of media workers W (0 = everything in one process). Calls are
 * added in steps, each with both participants ingesting in real time and one listener (a call is
 * mixed only where it has listeners); after a settle, a window counts the frames the jitter
 * buffers concealed (`frames_lost` of GET /v1/calls/{id}, over every call) and the mixer ticks the
 * server skipped. A step passes with 0 of both; the capacity is the last step that passed.
 * Prints one JSON line last (bench/run.mjs reads it).
 *
 *   node bench/capacity.mjs [--workers=0,1,…] [--steps=50,100,…] [--window=S] [--quick]
 */
import os from 'node:os';
import { apiClient } from './lib/api.mjs';
import { commandLine } from './lib/cli.mjs';
import { freshServer } from './lib/earshot-server.mjs';
import { createCalls, forkChild, HOST, ingestCalls, jitterStats } from './lib/run/load.mjs';
import { log } from './lib/run/log.mjs';
import { runPrintingJson } from './lib/teardown.mjs';

const USAGE = 'usage: node bench/capacity.mjs [--workers=0,1,…] [--steps=50,100,…] [--window=S] [--quick]';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Steps calls up on a fresh server with `workers` media workers; one record per step run. */
async function capacityOf(workers, steps, { windowS, settleS }) {
  const { server, port, apiKey } = await freshServer({ name: 'capacity', mediaWorkers: workers });
  const lg = forkChild('load-generator.mjs');
  try {
    const api = apiClient(server.base, apiKey);
    const calls = [];
    const results = [];
    await lg.call('ingestStart');
    for (const target of steps) {
      const added = await createCalls(api, target - calls.length);
      const ing = await ingestCalls(lg, port, added);
      const lis = await lg.call('listen', {
        host: HOST,
        port,
        group: 'capacity',
        paths: added.map((c) => c.listenPath),
      });
      calls.push(...added);
      const connectError = ing.failed || lis.failed ? (ing.firstError ?? lis.firstError) : null;
      await sleep(settleS * 1000);
      const skippedBefore = server.logs.skippedTicks;
      const before = await jitterStats(api, calls);
      await sleep(windowS * 1000);
      const after = await jitterStats(api, calls);
      const concealed = after.framesLost - before.framesLost;
      const late = after.framesLate - before.framesLate;
      const framesIn = after.framesIn - before.framesIn;
      const skippedTicks = server.logs.skippedTicks - skippedBefore;
      const pass = !connectError && concealed === 0 && skippedTicks === 0 && framesIn > 0;
      results.push({ calls: calls.length, concealed, late, framesIn, skippedTicks, connectError, pass });
      log(
        `capacity W=${workers}: ${calls.length} calls — concealed ${concealed}, late ${late} of ${framesIn} frames in, ` +
          `skipped ticks ${skippedTicks}${pass ? '' : '  STOP'}`,
      );
      if (!pass) break;
    }
    const passed = results.filter((r) => r.pass);
    return { workers, capacity: passed.at(-1)?.calls ?? 0, steps: results };
  } finally {
    await lg.stop();
    await server.stop();
  }
}

const cl = commandLine(process.argv.slice(2), {
  script: 'bench/capacity.mjs',
  usage: USAGE,
  options: {
    workers: { type: 'string' },
    steps: { type: 'string' },
    window: { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const quick = cl.values.quick ?? false;
const list = (arg, fallback) => (arg === undefined ? fallback : arg.split(',').map(Number));
const cores = os.availableParallelism();
const workersList = list(
  cl.values.workers,
  Array.from({ length: Math.max(1, cores) }, (_, w) => w),
);
const steps = list(
  cl.values.steps,
  quick ? [2, 4] : [50, 100, 150, 200, 300, 400, 500, 600, 800, 1000, 1200],
);
const windowS = cl.number('window', quick ? 1 : 5, { min: 0.5, integer: false });
await runPrintingJson('capacity', quick ? 90 : 420, async () => {
  const runs = [];
  for (const w of workersList) runs.push(await capacityOf(w, steps, { windowS, settleS: quick ? 0.5 : 5 }));
  return { cores, windowS, runs };
});
