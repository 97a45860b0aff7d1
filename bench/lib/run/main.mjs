/**
 * bench/run.mjs's orchestration: the single-node part (server, load, windows, ceiling), then the
 * parts run as their own processes, then the report. Everything it starts is torn down at the end,
 * also on failure, a signal or the time limit.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { apiClient } from '../api.mjs';
import { createOrg, earshotEnv, startEarshot } from '../earshot-server.mjs';
import { ROOT } from '../paths.mjs';
import { freePort } from '../ports.mjs';
import { scrape, sumOf } from '../prom.mjs';
import { renderMarkdown } from '../report/markdown.mjs';
import { renderTable } from '../report/table.mjs';
import { onTeardown, stopOnSignals, teardown, timeLimit } from '../teardown.mjs';
import { ceilingSteps } from './ceiling-phase.mjs';
import { capacityPart, clusterPart, stormPart, workersCeiling } from './child-runs.mjs';
import { TARGETS } from './config.mjs';
import { calibrate, machineFacts } from './facts.mjs';
import { fanoutRepeats } from './fanout-phase.mjs';
import { createCalls, forkChild, startLoad } from './load.mjs';
import { log, windowLine } from './log.mjs';
import { quietMeasurer, waitForQuiet } from './measure.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The single-node part: { facts, idle, repeats, ceiling, serverLogs }. */
async function singleNode(opts) {
  const { cfg, quick } = opts;
  const facts = await machineFacts(opts);
  // Each process holds one descriptor per socket; keep the ceiling within the open-file limit.
  const fdBudget = facts.openFiles - cfg.calls * 2 - 200;
  const steps = cfg.ceiling.filter((n) => n <= fdBudget);
  if (steps.length < cfg.ceiling.length)
    log(`open-file limit ${facts.openFiles}: ceiling steps capped at ${fdBudget}`);

  facts.busyAtStart = quick ? Number.NaN : await waitForQuiet(60);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'earshot-bench-'));
  onTeardown(() => rmSync(tmp, { recursive: true, force: true }));
  const port = await freePort();
  const env = earshotEnv({
    dbUrl: `sqlite:${path.join(tmp, 'bench.db')}`,
    port,
    extra: {
      EARSHOT_MEDIA_WORKERS: String(opts.mediaWorkers),
      EARSHOT_DIRECT_WRITES: opts.directWrites,
      ...opts.serverEnv,
    },
  });
  const apiKey = await createOrg(env);
  const profileDir = opts.profile ? mkdtempSync(path.join(os.tmpdir(), 'earshot-bench-profile-')) : null;
  if (profileDir) log(`server CPU profile goes to ${profileDir} (read it with bench/profile-summary.mjs)`);
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = await startEarshot({ env, nodeArgs, serverDist: opts.serverDist });
  log(`earshot pid ${server.pid} on ${server.base}`);
  // What the server writes listener messages with: the mode asked for, and whether the addon loaded.
  const active = sumOf(await scrape(server.base), 'earshot_direct_writes') === 1;
  facts.directWrites = { mode: opts.directWrites, active };

  const api = apiClient(server.base, apiKey);
  const calls = await createCalls(api, cfg.calls);
  log(`${calls.length} calls created`);
  const load = await startLoad({ port, calls, probes: cfg.probes });
  await load.startIngest();
  log(`ingest: ${calls.length * 2} participants sending μ-law 8 kHz`);
  const measureQuiet = quietMeasurer(cfg.retryBudgetS);
  const ctx = { cfg, api, port, server, calls, load, measureQuiet };
  const results = { facts, idle: null, repeats: [], ceiling: [], serverLogs: server.logs };

  // Ingest only, no listener: the node mixes nothing (it mixes only calls it has listeners for).
  await sleep(cfg.warmupS * 1000);
  const { lg1, lg2 } = load;
  const idle = { server, lg1, lg2, windowS: cfg.idleWindowS, cheapListeners: 0, probes: false };
  results.idle = await measureQuiet(idle);
  log(windowLine('idle (ingest only)', results.idle, 0));

  const baselines = {
    naive: forkChild('baseline-server.mjs', ['naive', String(cfg.calls)]),
    floor: forkChild('baseline-server.mjs', ['floor', String(cfg.calls)]),
  };
  results.repeats = await fanoutRepeats({ ...ctx, baselines });
  await baselines.naive.stop();
  await baselines.floor.stop();

  // Ceiling: step the listener count up over the same calls until the server stops keeping up.
  results.ceiling = await ceilingSteps(ctx, steps);
  facts.calibrationEndUs = await calibrate();
  return results;
}

/** Runs the benchmark with `opts` (from parseRunOptions); resolves with the exit code. */
export async function run(opts) {
  stopOnSignals('bench');
  const cancelLimit = timeLimit(opts.cfg.deadlineS, 'bench');
  let results;
  try {
    results = await singleNode(opts);
  } catch (err) {
    console.error('bench failed:', err?.stack ?? err);
    return 1;
  } finally {
    await teardown();
    cancelLimit();
  }
  if (opts.ceilingOnly) {
    process.stdout.write(`${JSON.stringify(results.ceiling)}\n`);
    return 0;
  }
  results.ceilingWorkers = await workersCeiling(opts);
  results.storm = await stormPart(opts);
  results.capacity = await capacityPart(opts);
  results.cluster = await clusterPart(opts);
  return report(results, opts);
}

/** Prints the table (and the cluster part), writes the report files; resolves with the exit code. */
function report(results, opts) {
  const { table, summary } = renderTable(results, TARGETS);
  process.stdout.write(`\n${table}\n`);
  if (opts.write) {
    writeFileSync(opts.outFile, renderMarkdown(results, TARGETS));
    log(`wrote ${path.relative(ROOT, opts.outFile)}`);
  }
  if (opts.jsonFile) writeFileSync(opts.jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  if (results.cluster.markdown) process.stdout.write(`\n${results.cluster.markdown}\n`);
  if (results.cluster.error) summary.errors.push(results.cluster.error);
  if (results.ceilingWorkers?.error) summary.errors.push(results.ceilingWorkers.error);
  if (results.storm?.error) summary.errors.push(results.storm.error);
  if (results.capacity?.error) summary.errors.push(results.capacity.error);
  for (const e of summary.errors) console.error(`bench: ${e}`);
  return summary.errors.length > 0 ? 1 : 0;
}
