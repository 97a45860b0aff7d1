#!/usr/bin/env node
/**
 * Ingest cost per family: what one participant-frame (20 ms of one participant) costs the server
 * when it arrives as generic binary μ-law (/ws/ingest: a socket per participant, or both on one
 * stereo socket), as Twilio's or Telnyx's base64 JSON, as
 * Genesys AudioHook's binary stereo μ-law, as Asterisk AudioSocket's slin over TCP or as RTP (PCMU)
 * over UDP — as a ratio to the generic binary path in the same run — and how many two-party calls
 * one core ingests (and mixes) that way. An AudioSocket call has one participant (always `caller`),
 * so its two-party call is two AudioSocket calls: the same participant-frames, twice the calls on
 * the server (and, mixed, a listener on each).
 *
 * One server per family (EARSHOT_MEDIA_WORKERS=0: everything in one process, so its CPU is that of
 * one core at most), all up at once, each holding its calls; one load generator (bench/lib/family-load.mjs)
 * drives them all, deadline-paced over the 20 ms period, but only one family sends at a time: the
 * families take turns, window by window, round after round (the order reversed every other round),
 * so that a drift of the shared machine's speed hits every family alike. Per window: the server's CPU
 * (/proc, user + system), the participant-frames it took in (earshot_frames_in_total), the load
 * generator's CPU and the rest of the machine's.
 *
 *   ingest only    no listener: a call is mixed only where it has listeners, and makes no frames
 *                  nobody takes, so this is the reading alone — socket read, WebSocket frame, the
 *                  platform's message parsing (JSON, base64), μ-law decode, counting the frames
 *   mixed          then one byte-counting listener per call, which is what makes the server mix it
 *                  (jitter buffers, the mix, PCM16 encoding, framing, one write per call per tick);
 *                  its frames concealed are counted (frames_lost of every call) with the skipped ticks
 *
 * Beside the families, unless --no-floors, two floors take the generic family's load in the same
 * rounds (bench/ingest-floor-server.mjs): `floor-raw`, a bare Node reader (a hand-written handshake,
 * then frame headers walked, nothing unmasked or made), and `floor-ws`, the `ws` library with an
 * empty message handler — what reading these sockets costs in Node on this machine before earshot
 * does anything, so that the generic path can be read as a ratio to them.
 *
 * Calls per core = calls / (server CPU as a fraction of one core). Then, unless --no-profile, each
 * family again against a fresh server under `node --cpu-prof`: its profile is cut to the measured
 * window and summarized with bench/profile-summary.mjs (where the time goes).
 * Prints one JSON line last (bench/run.mjs reads it).
 *
 *   node bench/ingest-families.mjs [--families=generic,generic-stereo,twilio,telnyx,audiohook,audiosocket,rtp]
 *     [--calls=100,200] [--rounds=N] [--window=S] [--settle=S] [--no-mixed] [--no-profile]
 *     [--no-floors] [--profile-calls=N] [--profile-window=S] [--quick]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { apiClient } from './lib/api.mjs';
import { commandLine } from './lib/cli.mjs';
import { createOrgWithIngestKey, earshotEnv, startEarshot, untilMetrics } from './lib/earshot-server.mjs';
import { FAMILIES, FAMILY_INFO, platformCallId } from './lib/family-clients.mjs';
import { benchFile, ROOT } from './lib/paths.mjs';
import { freePort } from './lib/ports.mjs';
import { cpuModel, cpuSplit, cpuWindow } from './lib/proc.mjs';
import { scrape, sumOf } from './lib/prom.mjs';
import { areaOf, CALLS_PER_CORE_TARGETS } from './lib/report/ingest-families.mjs';
import { OTHERS_MAX_CPU } from './lib/run/config.mjs';
import { createCalls, forkChild, HOST, jitterStats } from './lib/run/load.mjs';
import { log } from './lib/run/log.mjs';
import { median } from './lib/stats.mjs';
import { adopt, onTeardown, processHandle, runPrintingJson } from './lib/teardown.mjs';

const USAGE = `usage: node bench/ingest-families.mjs [options]

  --families=a,b,…     families to measure, generic first (default
                       generic,generic-stereo,twilio,telnyx,audiohook,audiosocket,rtp); generic is
                       always measured
                       (it is what the others are compared with)
  --calls=N,N,…        two-party calls per family, one load step each (default 100,200; --quick 3)
  --rounds=N           windows per family and step, families taking turns (default 2; --quick 1)
  --window=S           seconds per measured window (default 3; --quick 0.6)
  --settle=S           seconds between a family's resuming and its window (default 1.5; --quick 0.4)
  --no-mixed           skip the windows with one listener per call
  --no-profile         skip the CPU profiles (node --cpu-prof, bench/profile-summary.mjs)
  --no-floors          skip the floors (bench/ingest-floor-server.mjs: a bare reader, \`ws\` alone)
  --profile-calls=N    calls per family in the profiled run (default: the last of --calls)
  --profile-window=S   seconds of each profiled window (default 2.5; --quick 0.6)
  --quick              a smoke run: seconds, tiny counts
  --help               this text

Prints progress on stderr and one JSON line last on stdout.`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
/** Participant-frames per call and second: two participants, 50 frames each. */
const FRAMES_PER_CALL_S = 100;

/** Calls of the family's own per two-party call measured (AudioSocket's carry one participant each). */
/**
 * The floors (bench/ingest-floor-server.mjs), measured like families under the generic family's
 * load: what they are in the report, as FAMILY_INFO has it for the families.
 */
const FLOOR_INFO = {
  'floor-raw': {
    mode: 'raw',
    label: 'floor: bare Node reader (hand-written handshake, frame headers walked, nothing unmasked)',
    connectionsPerCall: 2,
    participantsPerCall: 2,
  },
  'floor-onread': {
    mode: 'onread',
    label: 'floor: bare Node reader, reads into one preallocated buffer (`onread`)',
    connectionsPerCall: 2,
    participantsPerCall: 2,
  },
  'floor-ws': {
    mode: 'ws',
    label: 'floor: the `ws` library, empty message handler',
    connectionsPerCall: 2,
    participantsPerCall: 2,
  },
};
const INFO = { ...FAMILY_INFO, ...FLOOR_INFO };
const isFloor = (f) => f in FLOOR_INFO;

const ownCallsPerCall = (family) => 2 / INFO[family].participantsPerCall;

/**
 * The first of the RTP server's UDP ports: below Linux's ephemeral range (32768–60999), where the
 * load generator's own sockets and the servers' HTTP ports (freePort) are.
 */
const RTP_FIRST_PORT = 20_000;

/**
 * A fresh server for `family` (one process, SQLite in a throwaway directory) with an ingest key;
 * AudioSocket's served on `audiosocketPort`, RTP's ports enough for `maxCalls` calls.
 */
async function startTarget(family, port, { profileDir, audiosocketPort, maxCalls }) {
  if (isFloor(family)) return startFloor(family, port);
  const tmp = mkdtempSync(path.join(os.tmpdir(), `earshot-families-${family}-`));
  onTeardown(() => rmSync(tmp, { recursive: true, force: true }));
  const env = earshotEnv({
    dbUrl: `sqlite:${path.join(tmp, 'families.db')}`,
    port,
    extra: { EARSHOT_MEDIA_WORKERS: '0' },
  });
  // Made offline, before the server starts: AudioSocket's server is started with its key. Without
  // client_secret: AudioHook's upgrade then needs no signature.
  const { apiKey, ingestKey: key } = await createOrgWithIngestKey(env, `bench ${family}`);
  let ingestPort = port;
  if (family === 'audiosocket') {
    env.EARSHOT_AUDIOSOCKET_LISTEN = `${HOST}:${audiosocketPort}`;
    env.EARSHOT_AUDIOSOCKET_INGEST_KEY = key;
    ingestPort = audiosocketPort;
  } else if (family === 'rtp') {
    // Two participants per call, each on an even port (the odd one above is RTCP's); 64 more in
    // case another program holds some (the server passes them over).
    env.EARSHOT_RTP_PORTS = `${RTP_FIRST_PORT}-${RTP_FIRST_PORT + 4 * maxCalls + 63}`;
    env.EARSHOT_RTP_HOST = HOST;
    // A port is released after this long without a packet: its calls wait paused, with nothing
    // sent, while the other families are measured — in a full run longer than the 30 s default.
    env.EARSHOT_RTP_IDLE_TIMEOUT_S = '3600';
  }
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const server = await startEarshot({ env, nodeArgs });
  const api = apiClient(server.base, apiKey);
  return { family, server, port, ingestPort, api, key, calls: [], group: family };
}

/**
 * A floor server (bench/ingest-floor-server.mjs) on `port`, as a target like a family's: it answers
 * /metrics in earshot's words, has no API, and takes the generic family's connections.
 */
async function startFloor(family, port) {
  const args = [benchFile('ingest-floor-server.mjs'), FLOOR_INFO[family].mode, String(port)];
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  const server = {
    ...adopt(processHandle(proc)),
    port,
    base: `http://${HOST}:${port}`,
    logs: { skippedTicks: 0 },
  };
  await untilMetrics(server, family, 15_000);
  return { family, server, port, ingestPort: port, api: null, key: null, calls: [], group: family };
}

/** One server per family, ports distinct: the HTTP port of each, and AudioSocket's TCP port. */
async function startTargets(families, opts) {
  const ports = [];
  while (ports.length < families.length + 1) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const audiosocketPort = ports.pop();
  const targets = await Promise.all(
    families.map((f, i) => startTarget(f, ports[i], { ...opts, audiosocketPort })),
  );
  return new Map(targets.map((t) => [t.family, t]));
}

/** `count` calls created through the API, each with an RTP port (μ-law) per participant: rtpPorts = [caller, agent]. */
async function createRtpCalls(api, count) {
  const calls = await createCalls(api, count);
  for (let i = 0; i < calls.length; i += 10) {
    await Promise.all(
      calls.slice(i, i + 10).map(async (c) => {
        c.rtpPorts = await Promise.all(
          ['caller', 'agent'].map(async (participant) => {
            const body = { participant, format: 'ulaw' };
            return (await api('POST', `/v1/calls/${encodeURIComponent(c.id)}/rtp`, body)).port;
          }),
        );
      }),
    );
  }
  return calls;
}

/**
 * Brings `t` up to `count` two-party calls, all connected through `lg` (paused), and waits for their
 * tracks.
 */
async function addCalls(t, lg, count) {
  const n = count * ownCallsPerCall(t.family) - t.calls.length;
  if (n <= 0) return;
  let added;
  if (isFloor(t.family)) {
    // The generic family's connections; a floor reads any path.
    added = Array.from({ length: n }, (_, i) => ({ id: `f${t.calls.length + i}` }));
    for (const c of added) c.ingestPath = `/ws/ingest/${c.id}?token=floor`;
  } else if (t.family === 'generic' || t.family === 'generic-stereo') added = await createCalls(t.api, n);
  else if (t.family === 'rtp') added = await createRtpCalls(t.api, n);
  else added = Array.from({ length: n }, (_, i) => ({ id: platformCallId(t.family, t.calls.length + i) }));
  const r = await lg.call('familyIngest', {
    host: HOST,
    port: t.ingestPort,
    family: isFloor(t.family) ? 'generic' : t.family,
    group: t.group,
    calls: added,
    key: t.key,
  });
  if (r.failed) throw new Error(`${t.family}: ${r.failed} ingest connections failed (${r.firstError})`);
  t.calls.push(...added);
  // Each platform stream's start is authorized (and its call created) asynchronously, and an RTP
  // port's participant joins with its first packet: wait until the server holds every participant.
  const want = INFO[t.family].participantsPerCall * t.calls.length;
  const until = performance.now() + 15_000;
  let have = 0;
  while (performance.now() < until) {
    const m = await scrape(t.server.base);
    have = sumOf(m, 'earshot_participants');
    if (have >= want) return;
    await sleep(100);
  }
  throw new Error(`${t.family}: ${have} of ${want} participants connected after 15 s`);
}

/** Listen paths of every call of `t` (platform calls: asked for now, they exist by now). */
async function listenPaths(t) {
  const paths = [];
  for (const c of t.calls) {
    if (!c.listenPath) {
      const listen = await t.api('POST', `/v1/calls/${encodeURIComponent(c.id)}/listen`);
      const u = new URL(listen.url);
      c.listenPath = u.pathname + u.search;
    }
    paths.push(c.listenPath);
  }
  return paths;
}

/**
 * One window on `t` while its family sends: server CPU (and kernel share), generator CPU, others,
 * participant-frames/s; with `jitter`, the frames concealed / late over every call.
 */
async function window(t, lg, { windowS, jitter }) {
  const { server } = t;
  const j0 = jitter ? await jitterStats(t.api, t.calls) : null;
  const skipped0 = server.logs.skippedTicks;
  const s0 = await lg.call('familyStats', { group: t.group });
  const m0 = await scrape(server.base);
  const tm0 = performance.now();
  const us0 = nowUs();
  const cpu = cpuWindow([server.pid, lg.pid]);
  const split0 = cpuSplit(server.pid);
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const {
    processes: [serverCpu, generatorCpu],
    others: othersCpu,
  } = cpu();
  const wallS = (performance.now() - t0) / 1000;
  const serverSysCpu = (100 * (cpuSplit(server.pid).system - split0.system)) / wallS;
  const us1 = nowUs();
  const m1 = await scrape(server.base);
  const scrapeS = (performance.now() - tm0) / 1000;
  const s1 = await lg.call('familyStats', { group: t.group });
  const j1 = jitter ? await jitterStats(t.api, t.calls) : null;
  const delta = (name) => sumOf(m1, name) - sumOf(m0, name);
  const framesPerS = delta('earshot_frames_in_total') / scrapeS;
  /** Two-party calls (AudioSocket's: pairs of its one-party calls). */
  const calls = t.calls.length / ownCallsPerCall(t.family);
  return {
    calls,
    wallS,
    serverCpu,
    serverSysCpu,
    generatorCpu,
    othersCpu,
    framesPerS,
    /** Share of the participant-frames the calls send in real time that arrived. */
    delivered: framesPerS / (FRAMES_PER_CALL_S * calls),
    /** Server CPU µs per participant-frame (1 % of a core = 10,000 µs/s). */
    usPerFrame: (serverCpu * 10_000) / framesPerS,
    /** % of one core per 1,000 participant-frames/s. */
    cpuPer1000: (serverCpu * 1000) / framesPerS,
    callsPerCore: calls / (serverCpu / 100),
    ingestErrors: delta('earshot_ingest_errors_total'),
    closed: s1.closed,
    generatorLateRuns: s1.lateRuns - s0.lateRuns,
    generatorSkipped: s1.skipped - s0.skipped,
    skippedTicks: server.logs.skippedTicks - skipped0,
    concealed: jitter ? j1.framesLost - j0.framesLost : null,
    late: jitter ? j1.framesLate - j0.framesLate : null,
    jitterFramesIn: jitter ? j1.framesIn - j0.framesIn : null,
    /** The window on the process.hrtime clock (µs), which is also the clock of V8's CPU profiles. */
    hrUs: [us0, us1],
  };
}

/**
 * Resumes `t`'s family, lets it settle, measures a window, pauses it again. A window during which
 * other processes used more than OTHERS_MAX_CPU of a core is measured again (up to 3 tries) while
 * `budget.s` lasts.
 */
async function turn(t, lg, opts, budget, label) {
  await lg.call('familyPause', { group: t.group, paused: false });
  try {
    await sleep(opts.settleS * 1000);
    let w;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      w = await window(t, lg, opts);
      w.attempts = attempt;
      if (w.othersCpu <= OTHERS_MAX_CPU || attempt === 3) break;
      const spent = (performance.now() - started) / 1000;
      if (budget.s < spent) break;
      budget.s -= spent;
      log(`families: window disturbed (others ${w.othersCpu.toFixed(0)} % of a core); measuring again`);
    }
    log(
      `families ${label} ${t.family}: ${w.calls} calls  cpu ${w.serverCpu.toFixed(1)}% (sys ${w.serverSysCpu.toFixed(1)})  ` +
        `${w.framesPerS.toFixed(0)} frames/s (${(100 * w.delivered).toFixed(1)} %)  ${w.usPerFrame.toFixed(2)} µs/frame  ` +
        `${w.callsPerCore.toFixed(0)} calls/core  gen ${w.generatorCpu.toFixed(0)}%  others ${w.othersCpu.toFixed(0)}%` +
        (w.concealed === null ? '' : `  concealed ${w.concealed} late ${w.late} skipped ${w.skippedTicks}`) +
        (w.ingestErrors || w.closed ? `  errors ${w.ingestErrors} closed ${w.closed}` : ''),
    );
    return w;
  } finally {
    await lg.call('familyPause', { group: t.group, paused: true });
  }
}

/** Families in turn order for round `r` (every other round reversed). */
const order = (families, r) => (r % 2 === 0 ? families : [...families].reverse());

/**
 * The measured part: { idle, steps: [{ calls, windows: { family: [w…] } }], mixed: { family: [w…] } };
 * the floors take their turns in the ingest-only rounds (their windows beside the families').
 */
async function measureFamilies(families, floors, opts) {
  const all = [...families, ...floors];
  const targets = await startTargets(all, { profileDir: null, maxCalls: opts.steps.at(-1) });
  const lg = forkChild('load-generator.mjs');
  const budget = { s: opts.quick ? 0 : 45 };
  try {
    // The fixed cost: the generic server with nothing connected.
    const gen = targets.get('generic');
    const idle = await window(gen, lg, { windowS: Math.min(2, opts.windowS), jitter: false });
    log(`families: idle server ${idle.serverCpu.toFixed(1)} % of a core`);
    const steps = [];
    for (const calls of opts.steps) {
      for (const f of all) await addCalls(targets.get(f), lg, calls);
      log(`families: ${calls} calls per family connected (paused)`);
      const windows = Object.fromEntries(all.map((f) => [f, []]));
      for (let r = 0; r < opts.rounds; r++) {
        for (const f of order(all, r))
          windows[f].push(await turn(targets.get(f), lg, { ...opts, jitter: false }, budget, 'ingest'));
      }
      steps.push({ calls, windows });
    }
    let mixed = null;
    if (opts.mixed) {
      // One listener per call, on the family whose turn it is only: the other servers would mix
      // (silence) for theirs meanwhile, on the same cores.
      mixed = Object.fromEntries(families.map((f) => [f, []]));
      for (let r = 0; r < opts.rounds; r++) {
        for (const f of order(families, r)) {
          const t = targets.get(f);
          const group = `mixed-${f}`;
          const lis = await lg.call('listen', {
            host: HOST,
            port: t.port,
            group,
            paths: await listenPaths(t),
          });
          if (lis.failed)
            throw new Error(`${f}: ${lis.failed} listeners failed to connect (${lis.firstError})`);
          mixed[f].push(await turn(t, lg, { ...opts, jitter: true }, budget, 'mixed'));
          await lg.call('unlisten', { group });
        }
      }
    }
    return { idle, steps, mixed };
  } finally {
    await lg.stop();
    await Promise.all([...targets.values()].map((t) => t.server.stop()));
  }
}

/** The self-time lines of bench/profile-summary.mjs's output: [{ pct, name }]. */
function parseSummary(text) {
  const selfPart = text.split('\ninclusive time\n')[0];
  const items = [];
  for (const line of selfPart.split('\n')) {
    const m = /^\s*([\d.]+) % {2}(.*)$/.exec(line);
    if (m) items.push({ pct: Number(m[1]), name: m[2] });
  }
  return items;
}

/**
 * Cuts a .cpuprofile to [fromUs, toUs] (the process.hrtime clock) and summarizes it: self time by
 * area and the top functions, as % of the main thread's busy samples and in µs per participant-frame
 * (a sample stands for the time to the next one: share of the window × its length / frames in it).
 */
async function summarizeWindow(file, [fromUs, toUs], framesPerS) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const samples = [];
  const deltas = [];
  let t = p.startTime;
  let last = fromUs;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    samples.push(p.samples[i]);
    deltas.push(t - last);
    last = t;
  }
  const cut = `${file}.${Math.round(fromUs)}.window.cpuprofile`;
  writeFileSync(cut, JSON.stringify({ ...p, startTime: fromUs, endTime: toUs, samples, timeDeltas: deltas }));
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [benchFile('profile-summary.mjs'), cut, '400'],
    {
      cwd: ROOT,
      maxBuffer: 16 << 20,
    },
  );
  const items = parseSummary(stdout);
  const idlePct = items.find((x) => x.name.startsWith('(idle)'))?.pct ?? 0;
  const busyPct = 100 - idlePct;
  // µs of the window per participant-frame, per % of its samples.
  const usPerPct = (toUs - fromUs) / 100 / ((framesPerS * (toUs - fromUs)) / 1e6);
  const busy = items.filter((x) => !x.name.startsWith('(idle)'));
  const areas = {};
  for (const x of busy) {
    const a = areaOf(x.name);
    areas[a] = (areas[a] ?? 0) + x.pct;
  }
  return {
    samples: samples.length,
    busyPct,
    mainUsPerFrame: busyPct * usPerPct,
    top: busy.slice(0, 10).map((x) => ({
      name: x.name,
      pctOfBusy: (100 * x.pct) / busyPct,
      usPerFrame: x.pct * usPerPct,
    })),
    areas: Object.fromEntries(
      Object.entries(areas)
        .sort((a, b) => b[1] - a[1])
        .map(([a, pct]) => [a, { pctOfBusy: (100 * pct) / busyPct, usPerFrame: pct * usPerPct }]),
    ),
  };
}

/** Each family against a fresh server under --cpu-prof: one ingest-only window, summarized. */
async function profileFamilies(families, opts) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'earshot-families-profile-'));
  onTeardown(() => rmSync(dir, { recursive: true, force: true }));
  const targets = await startTargets(families, { profileDir: dir, maxCalls: opts.profileCalls });
  const lg = forkChild('load-generator.mjs');
  const windows = {};
  try {
    for (const f of families) await addCalls(targets.get(f), lg, opts.profileCalls);
    for (const f of families) {
      const t = targets.get(f);
      const profiled = { ...opts, windowS: opts.profileWindowS, jitter: false };
      windows[f] = { ingest: await turn(t, lg, profiled, { s: 0 }, 'profiled') };
      if (!opts.mixed) continue;
      // The same calls with a listener each: where mixing a call for it goes.
      const group = `profiled-${f}`;
      const lis = await lg.call('listen', { host: HOST, port: t.port, group, paths: await listenPaths(t) });
      if (lis.failed) throw new Error(`${f}: ${lis.failed} listeners failed to connect (${lis.firstError})`);
      windows[f].mixed = await turn(t, lg, profiled, { s: 0 }, 'profiled, mixed');
      await lg.call('unlisten', { group });
    }
  } finally {
    await lg.stop();
    await Promise.all([...targets.values()].map((t) => t.server.stop()));
  }
  const files = readdirSync(dir);
  const out = {};
  for (const f of families) {
    const pid = targets.get(f).server.pid;
    const file = files.find((n) => n.endsWith('.cpuprofile') && n.includes(`.${pid}.`));
    if (!file) {
      out[f] = { error: `no profile written by pid ${pid}` };
      continue;
    }
    const profiled = async (w) => ({
      calls: w.calls,
      serverCpu: w.serverCpu,
      serverSysCpu: w.serverSysCpu,
      /** CPU per participant-frame in the profiled window (/proc), and its kernel (system) part. */
      usPerFrame: w.usPerFrame,
      kernelUsPerFrame: (w.serverSysCpu * 10_000) / w.framesPerS,
      ...(await summarizeWindow(path.join(dir, file), w.hrUs, w.framesPerS)),
    });
    out[f] = await profiled(windows[f].ingest);
    if (windows[f].mixed) out[f].mixed = await profiled(windows[f].mixed);
  }
  return out;
}

const pick = (ws, key) => median(ws.map((w) => w[key]));

/**
 * Medians over the rounds, and each family's ratio to generic (median of per-round ratios); the
 * floors' too, and generic's ratio to each floor (`vsFloor`).
 */
function summarize(families, floors, measured) {
  const perStep = measured.steps.map(({ calls, windows }) => {
    const gen = windows.generic;
    const byFamily = {};
    for (const f of [...families, ...floors]) {
      const ws = windows[f];
      if (ws.some((w) => !(w.framesPerS > 0)))
        throw new Error(`${f}: no participant-frame arrived at ${calls} calls`);
      byFamily[f] = {
        serverCpu: pick(ws, 'serverCpu'),
        serverSysCpu: pick(ws, 'serverSysCpu'),
        generatorCpu: pick(ws, 'generatorCpu'),
        othersCpu: pick(ws, 'othersCpu'),
        framesPerS: pick(ws, 'framesPerS'),
        delivered: pick(ws, 'delivered'),
        usPerFrame: pick(ws, 'usPerFrame'),
        cpuPer1000: pick(ws, 'cpuPer1000'),
        callsPerCore: pick(ws, 'callsPerCore'),
        vsGeneric: median(ws.map((w, r) => w.cpuPer1000 / gen[r].cpuPer1000)),
        errors: ws.reduce((a, w) => a + w.ingestErrors + w.closed, 0),
      };
    }
    byFamily.generic.vsFloor = Object.fromEntries(
      floors.map((fl) => [fl, median(gen.map((w, r) => w.cpuPer1000 / windows[fl][r].cpuPer1000))]),
    );
    return { calls, byFamily };
  });
  const top = perStep.at(-1);
  const first = perStep[0];
  const summary = {};
  for (const f of [...families, ...floors]) {
    const s = { ...top.byFamily[f], calls: top.calls };
    // Marginal cost between the first and the last step: fixed costs (the clock, keepalives) cancel.
    if (perStep.length > 1) {
      const a = first.byFamily[f];
      const b = top.byFamily[f];
      s.marginalUsPerFrame = ((b.serverCpu - a.serverCpu) * 10_000) / (b.framesPerS - a.framesPerS);
    }
    const mw = measured.mixed?.[f];
    if (mw) {
      const ingest = perStep.find((st) => st.calls === mw[0].calls)?.byFamily[f];
      const perCallTick = (pct) => (pct * 10_000) / (mw[0].calls * 50);
      s.mixed = {
        calls: mw[0].calls,
        serverCpu: pick(mw, 'serverCpu'),
        serverSysCpu: pick(mw, 'serverSysCpu'),
        // What mixing a call for its one listener adds, per call and 20 ms tick (same calls, ingest only subtracted).
        extraUsPerCallTick: ingest ? perCallTick(pick(mw, 'serverCpu') - ingest.serverCpu) : Number.NaN,
        extraSysUsPerCallTick: ingest
          ? perCallTick(pick(mw, 'serverSysCpu') - ingest.serverSysCpu)
          : Number.NaN,
        generatorCpu: pick(mw, 'generatorCpu'),
        othersCpu: pick(mw, 'othersCpu'),
        usPerFrame: pick(mw, 'usPerFrame'),
        cpuPer1000: pick(mw, 'cpuPer1000'),
        callsPerCore: pick(mw, 'callsPerCore'),
        vsGeneric: median(mw.map((w, r) => w.cpuPer1000 / measured.mixed.generic[r].cpuPer1000)),
        concealed: mw.reduce((a, w) => a + w.concealed, 0),
        late: mw.reduce((a, w) => a + w.late, 0),
        framesIn: mw.reduce((a, w) => a + w.jitterFramesIn, 0),
        skippedTicks: mw.reduce((a, w) => a + w.skippedTicks, 0),
        /** Load-generator pacer runs more than 5 ms late: its own lateness also conceals frames. */
        generatorLateRuns: mw.reduce((a, w) => a + w.generatorLateRuns, 0),
        errors: mw.reduce((a, w) => a + w.ingestErrors + w.closed, 0),
      };
    }
    summary[f] = s;
  }
  return { perStep, summary };
}

const cl = commandLine(process.argv.slice(2), {
  script: 'bench/ingest-families.mjs',
  usage: USAGE,
  options: {
    families: { type: 'string' },
    calls: { type: 'string' },
    rounds: { type: 'string' },
    window: { type: 'string' },
    settle: { type: 'string' },
    'no-mixed': { type: 'boolean' },
    'no-profile': { type: 'boolean' },
    'no-floors': { type: 'boolean' },
    'profile-calls': { type: 'string' },
    'profile-window': { type: 'string' },
    quick: { type: 'boolean' },
  },
});
const quick = cl.values.quick ?? false;
const asked = (cl.values.families ?? FAMILIES.join(',')).split(',').filter(Boolean);
for (const f of asked)
  if (!FAMILIES.includes(f)) cl.fail(`--families: unknown family ${f} (${FAMILIES.join(', ')})`);
const families = ['generic', ...asked.filter((f) => f !== 'generic')];
const floors = cl.values['no-floors'] ? [] : Object.keys(FLOOR_INFO);
const steps = (cl.values.calls ?? (quick ? '3' : '100,200')).split(',').map(Number);
if (steps.some((n) => !Number.isInteger(n) || n <= 0) || steps.some((n, i) => i > 0 && n <= steps[i - 1]))
  cl.fail(`--calls=${cl.values.calls}: expected increasing positive integers`);
const opts = {
  quick,
  steps,
  rounds: cl.number('rounds', quick ? 1 : 2, { min: 1 }),
  windowS: cl.number('window', quick ? 0.6 : 3, { min: 0.2, integer: false }),
  settleS: cl.number('settle', quick ? 0.4 : 1.5, { min: 0, integer: false }),
  mixed: !cl.values['no-mixed'],
  profile: !cl.values['no-profile'],
  profileCalls: cl.number('profile-calls', steps.at(-1), { min: 1 }),
  profileWindowS: cl.number('profile-window', quick ? 0.6 : 2.5, { min: 0.2, integer: false }),
};

await runPrintingJson('ingest-families', quick ? 120 : 600, async () => {
  const measured = await measureFamilies(families, floors, opts);
  const { perStep, summary } = summarize(families, floors, measured);
  const profile = opts.profile ? await profileFamilies(families, opts) : null;
  return {
    cores: os.availableParallelism(),
    cpu: cpuModel(),
    families,
    floors,
    labels: Object.fromEntries([...families, ...floors].map((f) => [f, INFO[f].label])),
    socketsPerCall: Object.fromEntries([...families, ...floors].map((f) => [f, INFO[f].connectionsPerCall])),
    steps,
    rounds: opts.rounds,
    windowS: opts.windowS,
    settleS: opts.settleS,
    profileWindowS: opts.profile ? opts.profileWindowS : null,
    profileCalls: opts.profile ? opts.profileCalls : null,
    targets: CALLS_PER_CORE_TARGETS,
    idle: { serverCpu: measured.idle.serverCpu },
    perStep,
    summary,
    windows: measured,
    profile,
  };
});
