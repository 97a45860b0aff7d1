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
 *   npm run bench                 full run (~4–5 min), rewrites docs/benchmarks.md
 *   npm run bench -- --quick      smoke run (a few seconds, tiny counts), prints only
 *   options: --no-write --out=<file> --repeats=N --window=S --ceiling=1000,2000|none
 *            --profile (the server runs with --cpu-prof; summarize with bench/profile-summary.mjs)
 *            --server-dist=<dir> (the server from another build, e.g. `tsc --outDir`, to compare versions)
 *            --json=<file> (every measurement, raw)
 *            --fanout-workers=N (the server's EARSHOT_FANOUT_WORKERS; default 0)
 *            --direct-writes=auto|on|off (the server's EARSHOT_DIRECT_WRITES; default auto)
 *            --ceiling-only (just the ceiling steps, as JSON on stdout: used for the fan-out-worker pass)
 *            --no-workers-ceiling (skip that second ceiling pass, with EARSHOT_FANOUT_WORKERS = cores − 1)
 *            --no-cluster (skip the last part: bench/cluster-bench.mjs, the NATS hop between two nodes)
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { apiClient } from './lib/api.mjs';
import { cpuModel, cpuSplit, cpuWindow, machineBusy, openFileLimit, rssBytes } from './lib/proc.mjs';
import { histogramQuantile, scrape, sumOf } from './lib/prom.mjs';
import { renderMarkdown, renderTable } from './lib/report.mjs';
import { Child } from './lib/rpc.mjs';
import { LISTEN_MESSAGE_BYTES } from './lib/signals.mjs';
import { percentile } from './lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const here = (file) => path.join(root, 'bench', file);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const execFileP = promisify(execFile);

// ---- options ---------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const quick = flag('quick');
/** Only the ceiling steps, printed as JSON (the second pass of a full run, with fan-out workers). */
const ceilingOnly = flag('ceiling-only');
const FULL = {
  calls: 200,
  perCall: 5,
  probes: 10,
  warmupS: 2,
  windowS: 8,
  idleWindowS: 5,
  repeats: 5,
  ceiling: [500, 1000, 2000, 4000, 6000, 8000],
  stepSettleS: 2,
  stepWindowS: 6,
  deadlineS: 720,
};
const QUICK = {
  calls: 4,
  perCall: 3,
  probes: 2,
  warmupS: 0.3,
  windowS: 1,
  idleWindowS: 0.6,
  repeats: 1,
  ceiling: [12, 18],
  stepSettleS: 0.3,
  stepWindowS: 0.8,
  deadlineS: 90,
};
const cfg = { ...(quick ? QUICK : FULL) };
if (ceilingOnly) cfg.repeats = 0;
if (option('repeats')) cfg.repeats = Number(option('repeats'));
if (option('window')) cfg.windowS = Number(option('window'));
if (option('ceiling'))
  cfg.ceiling = option('ceiling')
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
const write = (!quick || option('out') !== undefined) && !flag('no-write') && !ceilingOnly;
const outFile = path.resolve(root, option('out') ?? 'docs/benchmarks.md');
const profile = flag('profile');
/** EARSHOT_FANOUT_WORKERS of the server under test. */
const fanoutWorkers = Number(option('fanout-workers') ?? 0);
/** EARSHOT_DIRECT_WRITES of the server under test. */
const directWrites = option('direct-writes') ?? 'auto';
const serverDist = option('server-dist') ? path.resolve(option('server-dist')) : null;
const LAG_RESOLUTION_MS = 10; // earshot's eventLoopMonitoringPrecision: the histogram's floor
/** How long a ceiling step may spend connecting its new listeners (a saturated server accepts slowly). */
const CEILING_CONNECT_BUDGET_MS = 20_000;
/** A window during which other processes used more than this (% of one core) is measured again. */
const OTHERS_MAX_CPU = 20;
/** Seconds the whole run may spend on measuring disturbed windows again. */
let retryBudgetS = quick ? 0 : 60;
const TARGETS = {
  latencyP50Ms: 30,
  latencyP99Ms: 60,
  vsNaive: 0.8,
  vsFloor: 1.1,
  ceiling: 4000,
  lagP99Ms: 20,
};

// ---- cleanup: nothing may outlive the run ------------------------------------------------------

const children = [];
const cleanups = [];
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        console.error('bench cleanup:', err.message);
      }
    }
  })();
  return cleaning;
}
process.on('exit', () => {
  for (const c of children) c.kill();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`bench: ${sig}, stopping`);
    cleanup().finally(() => process.exit(130));
  });
}
const deadline = setTimeout(() => {
  console.error(`bench: time limit of ${cfg.deadlineS} s reached, stopping`);
  cleanup().finally(() => process.exit(1));
}, cfg.deadlineS * 1000);

function fork(file, args = []) {
  const child = new Child(here(file), args);
  children.push(child);
  cleanups.push(() => child.stop());
  return child;
}

const log = (msg) =>
  process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(1)}s] ${msg}\n`);
const T0 = performance.now();

// ---- the server under test ---------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function earshotEnv(dbUrl, port) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EARSHOT_')));
  return {
    ...env,
    EARSHOT_HOST: '127.0.0.1',
    EARSHOT_PORT: String(port),
    EARSHOT_DATABASE_URL: dbUrl,
    EARSHOT_LOG_LEVEL: 'warn',
    EARSHOT_RATE_LIMIT_PER_MIN: '1000000',
    // The load generator is one client address with thousands of sockets on a few calls of one org.
    EARSHOT_MAX_LISTENERS_PER_CALL: '100000',
    EARSHOT_MAX_LISTENERS_PER_ORG: '100000',
    EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '100000',
    EARSHOT_CALL_IDLE_TIMEOUT_S: '3600',
    EARSHOT_FANOUT_WORKERS: String(fanoutWorkers),
    EARSHOT_DIRECT_WRITES: directWrites,
  };
}

async function startEarshot(dbUrl, port, profileDir) {
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // --server-dist=<dir> runs another build of the server (e.g. to compare two versions).
  const entry = serverDist
    ? [
        '--input-type=module',
        '-e',
        `import(${JSON.stringify(path.join(serverDist, 'cli/main.js'))}).then((m) => m.run(['serve']))`,
      ]
    : [path.join(root, 'bin/earshot.js'), 'serve'];
  const proc = spawn(process.execPath, [...nodeArgs, ...entry], {
    cwd: root,
    env: earshotEnv(dbUrl, port),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const logs = { skippedTicks: 0, evicted: 0, other: [] };
  let partial = '';
  const onData = (chunk) => {
    partial += chunk;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (!line.trim()) continue;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { msg: line };
      }
      if (typeof entry.ticks === 'number' && /skipped mixer ticks/.test(entry.msg))
        logs.skippedTicks += entry.ticks;
      else if (typeof entry.evicted === 'number') logs.evicted += entry.evicted;
      else if (logs.other.length < 20) logs.other.push(entry.msg ?? line);
    }
  };
  proc.stdout.setEncoding('utf8').on('data', onData);
  proc.stderr.setEncoding('utf8').on('data', onData);
  const server = {
    pid: proc.pid,
    base: `http://127.0.0.1:${port}`,
    logs,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
  children.push(server);
  cleanups.push(() => server.stop());
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) throw new Error(`earshot exited at start: ${logs.other.join(' | ')}`);
    try {
      await scrape(server.base);
      return server;
    } catch {
      await sleep(100);
    }
  }
  throw new Error('earshot did not answer /metrics within 15 s');
}

// ---- measurement windows -------------------------------------------------------------------------

/**
 * Measures one steady-state window: CPU of the server and both generators from /proc, RSS, and
 * for earshot the /metrics deltas (frames out, drops, tick duration) and samples (heap, lag).
 */
async function measure({ server, baseline, lg1, lg2, windowS, cheapListeners, probes }) {
  const isEarshot = !baseline;
  const pid = isEarshot ? server.pid : baseline.pid;
  const m0 = isEarshot ? await scrape(server.base) : null;
  const logs0 = { ...server.logs };
  const b0 = baseline ? await baseline.call('stats') : null;
  const s0 = await lg1.call('stats');
  if (probes) await lg2.call('windowBegin');
  const cpu = cpuWindow([pid, lg1.pid, lg2.pid]);
  const split0 = cpuSplit(pid);
  const t0 = performance.now();
  const end = t0 + windowS * 1000;
  const heap = [];
  const lag = [];
  const rss = [];
  let mEnd = m0;
  const sampleMs = Math.min(2000, (windowS * 1000) / 2);
  while (performance.now() < end - 5) {
    await sleep(Math.max(0, Math.min(sampleMs, end - performance.now())));
    rss.push(rssBytes(pid));
    if (isEarshot) {
      mEnd = await scrape(server.base);
      heap.push(sumOf(mEnd, 'earshot_nodejs_heap_size_used_bytes'));
      lag.push(
        Math.max(0, sumOf(mEnd, 'earshot_nodejs_eventloop_lag_p99_seconds') * 1000 - LAG_RESOLUTION_MS),
      );
    }
  }
  const {
    processes: [serverCpu, lg1Cpu, lg2Cpu],
    others: othersCpu,
  } = cpu();
  const wallS = (performance.now() - t0) / 1000;
  const serverSysCpu = (100 * (cpuSplit(pid).system - split0.system)) / wallS;
  const s1 = await lg1.call('stats');
  const b1 = baseline ? await baseline.call('stats') : null;
  const probe = probes ? await lg2.call('windowEnd') : null;
  const delta = (name) => sumOf(mEnd, name) - sumOf(m0, name);
  const messagesOut = isEarshot ? delta('earshot_frames_out_total') : b1.messagesSent - b0.messagesSent;
  return {
    wallS,
    serverCpu,
    serverSysCpu,
    generatorCpu: lg1Cpu + lg2Cpu,
    othersCpu,
    rssMb: median(rss) / 2 ** 20,
    heapMinMb: isEarshot ? Math.min(...heap) / 2 ** 20 : Number.NaN,
    lagP99Ms: isEarshot ? median(lag) : Number.NaN,
    lagP99MaxMs: isEarshot ? Math.max(...lag) : Number.NaN,
    tickP99Ms: isEarshot
      ? histogramQuantile(m0, mEnd, 'earshot_mix_latency_seconds', 0.99) * 1000
      : Number.NaN,
    messagesPerS: messagesOut / wallS,
    /** Ticks per listener write when the window ended (earshot_write_coalescing; 1: every tick). */
    coalescing: isEarshot ? sumOf(mEnd, 'earshot_write_coalescing') : Number.NaN,
    dropped: isEarshot ? delta('earshot_frames_dropped_total') : 0,
    skippedTicks: isEarshot ? server.logs.skippedTicks - logs0.skippedTicks : b1.skipped - b0.skipped,
    evicted: isEarshot ? server.logs.evicted - logs0.evicted : 0,
    cheapMsgPerS:
      cheapListeners > 0 ? (s1.bytes - s0.bytes) / LISTEN_MESSAGE_BYTES / cheapListeners / wallS : Number.NaN,
    unexpectedCloses: s1.unexpectedCloses - s0.unexpectedCloses,
    ingestLateRuns: s1.ingestLateRuns - s0.ingestLateRuns,
    probe,
  };
}

/**
 * `measure`, again (up to twice) when other processes on the machine used more than
 * OTHERS_MAX_CPU of a core during the window, while the retry budget lasts.
 */
async function measureQuiet(options) {
  let m;
  for (let attempt = 1; ; attempt++) {
    const t0 = performance.now();
    m = await measure(options);
    m.attempts = attempt;
    if (m.othersCpu <= OTHERS_MAX_CPU || attempt === 3) break;
    const spent = (performance.now() - t0) / 1000;
    if (retryBudgetS < spent) break;
    retryBudgetS -= spent;
    log(`window disturbed: other processes used ${m.othersCpu.toFixed(0)} % of a core; measuring again`);
  }
  return m;
}

/** Waits (up to `maxS`) for the machine to be quiet before starting. */
async function waitForQuiet(maxS) {
  const until = performance.now() + maxS * 1000;
  let busy = await machineBusy(1000);
  while (busy > OTHERS_MAX_CPU && performance.now() < until) {
    log(`machine busy (${busy.toFixed(0)} % of a core used by other processes); waiting`);
    busy = await machineBusy(3000);
  }
  return busy;
}

function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function fmtRow(label, m, listeners) {
  const parts = [
    `${label}: listeners ${listeners}`,
    `cpu ${m.serverCpu.toFixed(1)}% (sys ${m.serverSysCpu.toFixed(1)})`,
    `gen ${m.generatorCpu.toFixed(0)}%`,
    `others ${m.othersCpu.toFixed(0)}%${m.attempts > 1 ? ` (try ${m.attempts})` : ''}`,
    `msg/s ${m.messagesPerS.toFixed(0)}`,
    `rss ${m.rssMb.toFixed(0)}MB`,
  ];
  if (Number.isFinite(m.heapMinMb))
    parts.push(`heap ${m.heapMinMb.toFixed(1)}MB`, `lag99 ${m.lagP99Ms.toFixed(1)}ms`);
  if (Number.isFinite(m.tickP99Ms)) parts.push(`tick99 ≤${m.tickP99Ms}ms`);
  if (m.coalescing > 1) parts.push(`${m.coalescing} ticks/write`);
  parts.push(`drop ${m.dropped}`, `skip ${m.skippedTicks}`);
  if (Number.isFinite(m.cheapMsgPerS)) parts.push(`cheap ${m.cheapMsgPerS.toFixed(1)}/s`);
  if (m.probe) {
    const lat = m.probe.latencies;
    const p = (q) => (lat.length ? percentile(lat, q).toFixed(1) : 'n/a');
    parts.push(`latency n=${lat.length} p50 ${p(50)} p99 ${p(99)} lost ${m.probe.missed}`);
  }
  return parts.join('  ');
}

// ---- the run ---------------------------------------------------------------------------------------

/**
 * A fixed CPU-bound workload timed in this process — resampling 20 ms of 8 kHz audio to 16 kHz
 * with earshot's resampler — in µs of CPU per frame: the speed of the (virtual) machine right now,
 * which varies between runs on a shared host.
 */
async function calibrate() {
  const { createResampler } = await import('../dist/audio/resampler.js');
  const r = createResampler(8000, 16000);
  const input = Int16Array.from({ length: 160 }, (_, i) => Math.round(8000 * Math.sin(i / 3)));
  const output = new Int16Array(r.maxOutputLength(160));
  for (let i = 0; i < 2000; i++) r.process(input, output);
  const c0 = process.cpuUsage();
  for (let i = 0; i < 10_000; i++) r.process(input, output);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 10_000;
}

async function main() {
  const facts = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: cpuModel(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    openFiles: openFileLimit(),
    memGb: os.totalmem() / 2 ** 30,
    commit: await execFileP('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).then(
      (r) => r.stdout.trim(),
      () => 'unknown',
    ),
    quick,
    cfg,
    calibrationUs: await calibrate(),
  };
  // Each process holds one descriptor per socket; keep the ceiling within the open-file limit.
  const fdBudget = facts.openFiles - cfg.calls * 2 - 200;
  const ceilingSteps = cfg.ceiling.filter((n) => n <= fdBudget);
  if (ceilingSteps.length < cfg.ceiling.length)
    log(`open-file limit ${facts.openFiles}: ceiling steps capped at ${fdBudget}`);

  facts.busyAtStart = quick ? Number.NaN : await waitForQuiet(60);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'earshot-bench-'));
  cleanups.unshift(() => rmSync(tmp, { recursive: true, force: true }));
  const dbUrl = `sqlite:${path.join(tmp, 'bench.db')}`;
  const port = await freePort();
  const { stdout } = await execFileP(
    process.execPath,
    [path.join(root, 'bin/earshot.js'), 'org', 'create', 'bench', '--live-listen', '--json'],
    { cwd: root, env: earshotEnv(dbUrl, port) },
  );
  const apiKey = JSON.parse(stdout).api_key;
  const profileDir = profile ? mkdtempSync(path.join(os.tmpdir(), 'earshot-bench-profile-')) : null;
  if (profileDir) log(`server CPU profile goes to ${profileDir} (read it with bench/profile-summary.mjs)`);
  const server = await startEarshot(dbUrl, port, profileDir);
  log(`earshot pid ${server.pid} on ${server.base}`);
  // What the server writes listener messages with: the mode asked for, and whether the addon loaded.
  facts.directWrites = {
    mode: directWrites,
    active: sumOf(await scrape(server.base), 'earshot_direct_writes') === 1,
  };

  const api = apiClient(server.base, apiKey);
  const pathOf = (url) => {
    const u = new URL(url);
    return u.pathname + u.search;
  };
  const calls = [];
  for (let i = 0; i < cfg.calls; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, cfg.calls - i) }, async () => {
        const created = await api('POST', '/v1/calls', {});
        const listen = await api('POST', `/v1/calls/${encodeURIComponent(created.call_id)}/listen`);
        return {
          id: created.call_id,
          ingestPath: pathOf(created.ingest.url),
          listenPath: pathOf(listen.url),
        };
      }),
    );
    calls.push(...batch);
  }
  /** Jitter-buffer counters (GET /v1/calls/{id}) of `list`, summed over their participants. */
  const jitterStats = async (list) => {
    const total = { framesIn: 0, framesLate: 0, framesLost: 0 };
    for (const c of list) {
      const call = await api('GET', `/v1/calls/${encodeURIComponent(c.id)}`);
      for (const p of call.participants ?? []) {
        total.framesIn += p.frames_in ?? 0;
        total.framesLate += p.frames_late ?? 0;
        total.framesLost += p.frames_lost ?? 0;
      }
    }
    return total;
  };
  const ingestPath = (c, who) => `${c.ingestPath}&participant=${who}&encoding=mulaw&sample_rate=8000`;
  const host = '127.0.0.1';
  const wsBase = `ws://${host}:${port}`;
  log(`${calls.length} calls created`);

  const lg1 = fork('load-generator.mjs');
  const lg2 = fork('probe-generator.mjs');
  const probeCalls = calls.slice(0, cfg.probes);
  const bulkCalls = calls.slice(cfg.probes);
  const ing = await lg1.call('ingest', {
    host,
    port,
    sockets: bulkCalls.flatMap((c) => [
      { path: ingestPath(c, 'caller'), kind: 'caller' },
      { path: ingestPath(c, 'agent'), kind: 'agent' },
    ]),
  });
  if (ing.failed) throw new Error(`ingest connect failed: ${ing.firstError}`);
  await lg2.call('ingest', {
    list: probeCalls.map((c) => ({
      callerUrl: wsBase + ingestPath(c, 'caller'),
      agentUrl: wsBase + ingestPath(c, 'agent'),
      listenUrl: wsBase + c.listenPath,
    })),
  });
  const startIngest = () => Promise.all([lg1.call('ingestStart'), lg2.call('ingestStart')]);
  const stopIngest = () => Promise.all([lg1.call('ingestStop'), lg2.call('ingestStop')]);
  await startIngest();
  log(`ingest: ${calls.length * 2} participants sending μ-law 8 kHz`);

  const listen = async (group, paths, p = port) => {
    const r = await lg1.call('listen', { host, port: p, group, paths });
    if (r.failed) throw new Error(`${group}: ${r.failed} listeners failed to connect (${r.firstError})`);
    return r.opened;
  };
  const results = { facts, idle: null, repeats: [], ceiling: [], serverLogs: server.logs };
  const common = { server, lg1, lg2 };

  // Ingest only, no listener: the node mixes nothing (it mixes only calls it has listeners for).
  await sleep(cfg.warmupS * 1000);
  results.idle = await measureQuiet({
    ...common,
    windowS: cfg.idleWindowS,
    cheapListeners: 0,
    probes: false,
  });
  log(fmtRow('idle (ingest only)', results.idle, 0));

  const naive = fork('baseline-server.mjs', ['naive', String(cfg.calls)]);
  const floor = fork('baseline-server.mjs', ['floor', String(cfg.calls)]);
  const baselinePorts = { naive: await naive.call('port'), floor: await floor.call('port') };
  const basePaths = bulkCalls.map((c) => c.listenPath);
  const fullPaths = calls.flatMap((c) => Array(cfg.perCall - 1).fill(c.listenPath));
  const fullListeners = cfg.calls * cfg.perCall;
  const baseListeners = cfg.calls;

  for (let r = 0; r < cfg.repeats; r++) {
    const rep = {};
    // Scenario A: every call ingesting, every listener connected.
    if (r > 0) await startIngest();
    await lg2.call('listen');
    await listen('base', basePaths);
    await listen('full', fullPaths);
    await sleep(cfg.warmupS * 1000);
    const allCheap = basePaths.length + fullPaths.length;
    rep.scenario = await measureQuiet({
      ...common,
      windowS: cfg.windowS,
      cheapListeners: allCheap,
      probes: true,
    });
    rep.scenario.jitter = await jitterStats(probeCalls);
    log(fmtRow(`#${r + 1} earshot Scenario A`, rep.scenario, fullListeners));
    log(`   jitter buffers of the probe calls so far: ${JSON.stringify(rep.scenario.jitter)}`);
    // Fan-out pair, ingest paused: every call is still mixed and sent (silence, 50 msg/s), but the
    // server is no longer CPU-bound, so the difference between the two windows is the fan-out.
    await stopIngest();
    await sleep(cfg.warmupS * 1000);
    rep.full = await measureQuiet({
      ...common,
      windowS: cfg.windowS,
      cheapListeners: allCheap,
      probes: true,
    });
    log(fmtRow(`#${r + 1} earshot fan-out`, rep.full, fullListeners));
    await lg1.call('unlisten', { group: 'full' });
    await sleep(cfg.warmupS * 1000);
    rep.base = await measureQuiet({
      ...common,
      windowS: cfg.windowS,
      cheapListeners: basePaths.length,
      probes: true,
    });
    log(fmtRow(`#${r + 1} earshot fan-out`, rep.base, baseListeners));
    // Quiet earshot down completely while the baselines run.
    await lg1.call('unlisten', { group: 'base' });
    await lg2.call('unlisten');
    for (const [name, child] of [
      ['naive', naive],
      ['floor', floor],
    ]) {
      // The same two listener counts as earshot, so that all three are compared per added listener.
      const paths = (from, to) =>
        Array.from({ length: to - from }, (_, i) => `/listen/${(from + i) % cfg.calls}`);
      await listen(name, paths(0, baseListeners), baselinePorts[name]);
      await sleep(cfg.warmupS * 1000);
      const options = { ...common, baseline: child, windowS: cfg.windowS, probes: false };
      rep[`${name}Base`] = await measureQuiet({ ...options, cheapListeners: baseListeners });
      log(fmtRow(`#${r + 1} ${name} base`, rep[`${name}Base`], baseListeners));
      await listen(name, paths(baseListeners, fullListeners), baselinePorts[name]);
      await sleep(cfg.warmupS * 1000);
      rep[name] = await measureQuiet({ ...options, cheapListeners: fullListeners });
      log(fmtRow(`#${r + 1} ${name} full`, rep[name], fullListeners));
      await lg1.call('unlisten', { group: name });
    }
    results.repeats.push(rep);
  }
  await naive.stop();
  await floor.stop();

  // Ceiling: step the listener count up over the same calls until the server stops keeping up.
  await startIngest();
  await lg2.call('listen');
  let current = cfg.probes;
  let cursor = 0;
  for (const target of ceilingSteps) {
    const paths = [];
    const need = target - current;
    // Spread evenly: the bulk calls get the cheap listeners, round-robin.
    for (let k = 0; k < need; k++) paths.push(calls[cursor++ % calls.length].listenPath);
    let connectError = null;
    const r = await lg1.call('listen', {
      host,
      port,
      group: 'ceiling',
      paths,
      budgetMs: CEILING_CONNECT_BUDGET_MS,
    });
    current += r.opened;
    if (r.failed)
      connectError = `${r.failed} of ${paths.length} listeners could not connect: ${r.firstError}`;
    await sleep(cfg.stepSettleS * 1000);
    const m = await measureQuiet({
      ...common,
      windowS: cfg.stepWindowS,
      cheapListeners: current - cfg.probes,
      probes: true,
    });
    const expected = current * 50;
    const delivered = m.messagesPerS / expected;
    // Served: every listener got every message. The ceiling also wants a responsive event loop.
    const served =
      !connectError &&
      m.dropped === 0 &&
      m.skippedTicks === 0 &&
      m.unexpectedCloses === 0 &&
      delivered >= 0.99;
    const lagOk = m.lagP99Ms <= TARGETS.lagP99Ms;
    results.ceiling.push({
      listeners: current,
      ...m,
      delivered,
      served,
      lagOk,
      pass: served && lagOk,
      connectError,
    });
    log(
      `${fmtRow('ceiling', m, current)}  delivered ${(100 * delivered).toFixed(1)}%  ${served ? (lagOk ? 'ok' : 'served, lag high') : 'STOP'}`,
    );
    if (!served) break;
  }
  facts.calibrationEndUs = await calibrate();
  return results;
}

/**
 * The cluster part (issue: what a NATS hop adds, one node's ingest → another node's listeners):
 * `bench/cluster-bench.mjs` in its own process once the single-node part has cleaned up, so the two
 * never share the CPU. Its Markdown goes into the report as it is.
 */
async function clusterPart() {
  if (flag('no-cluster')) return { skipped: 'skipped (--no-cluster)' };
  log('cluster part: bench/cluster-bench.mjs …');
  try {
    const { stdout } = await execFileP(
      process.execPath,
      [here('cluster-bench.mjs'), ...(quick ? ['--quick'] : [])],
      { cwd: root, timeout: (quick ? 60 : 240) * 1000, maxBuffer: 1 << 20 },
    );
    return { markdown: stdout.trim() };
  } catch (err) {
    const why = `${err.stderr ?? ''}`.trim().split('\n').at(-1) || err.message;
    return { error: `cluster benchmark failed: ${why}` };
  }
}

/**
 * The ceiling again, against a server with fan-out workers (cores − 1, at least 1): a second
 * `run.mjs --ceiling-only` once this one has cleaned up, so that the two servers never overlap.
 */
async function workersCeilingPart() {
  const workers = Math.max(1, os.availableParallelism() - 1);
  if (flag('no-workers-ceiling') || cfg.ceiling.length === 0) return null;
  log(`ceiling with ${workers} fan-out worker(s): bench/run.mjs --ceiling-only …`);
  const args = [here('run.mjs'), '--ceiling-only', `--fanout-workers=${workers}`];
  if (quick) args.push('--quick');
  if (option('ceiling')) args.push(`--ceiling=${option('ceiling')}`);
  args.push(`--direct-writes=${directWrites}`);
  try {
    const { stdout } = await execFileP(process.execPath, args, {
      cwd: root,
      timeout: (quick ? 60 : 300) * 1000,
      maxBuffer: 16 << 20,
    });
    return { workers, steps: JSON.parse(stdout.trim().split('\n').at(-1)) };
  } catch (err) {
    const why = `${err.stderr ?? ''}`.trim().split('\n').at(-1) || err.message;
    return { workers, error: `ceiling with fan-out workers failed: ${why}` };
  }
}

let exitCode = 0;
try {
  const results = await main();
  await cleanup();
  clearTimeout(deadline);
  if (ceilingOnly) {
    process.stdout.write(`${JSON.stringify(results.ceiling)}\n`);
    process.exit(0);
  }
  results.ceilingWorkers = await workersCeilingPart();
  results.cluster = await clusterPart();
  const { table, summary } = renderTable(results, TARGETS);
  process.stdout.write(`\n${table}\n`);
  if (write) {
    writeFileSync(outFile, renderMarkdown(results, TARGETS));
    log(`wrote ${path.relative(root, outFile)}`);
  }
  if (option('json')) writeFileSync(path.resolve(option('json')), `${JSON.stringify(results, null, 2)}\n`);
  if (results.cluster.markdown) process.stdout.write(`\n${results.cluster.markdown}\n`);
  if (results.cluster.error) summary.errors.push(results.cluster.error);
  if (results.ceilingWorkers?.error) summary.errors.push(results.ceilingWorkers.error);
  if (summary.errors.length > 0) {
    for (const e of summary.errors) console.error(`bench: ${e}`);
    exitCode = 1;
  }
} catch (err) {
  console.error('bench failed:', err?.stack ?? err);
  exitCode = 1;
  await cleanup();
  clearTimeout(deadline);
}
process.exit(exitCode);
