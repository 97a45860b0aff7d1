#!/usr/bin/env node
/**
 * Issue 11's isolation targets, each against a fresh server process, in one process
 * (EARSHOT_MEDIA_WORKERS=0) and with one media worker:
 *
 *   API flood      a bystander call (a tone fed in, a listener) while 50 requests at a time hit
 *                  `GET /v1/calls/{id}` for `--flood` seconds, every one valid and within the rate
 *                  limit (EARSHOT_RATE_LIMIT_PER_MIN raised so that the limiter lets them all through:
 *                  each is real work, a database read); the listener's longest gap between messages
 *   stalled        a `ws` client listening to the bystander's call stops reading (its socket paused,
 *                  so the kernel fills up as for a frozen program); then one that reads at half the
 *                  stream's rate. How long until the server dropped it (`earshot_listeners` back to
 *                  the bystander alone) and the close code it finds once it reads again (SPEC §3:
 *                  1008 `listener too slow`); the bystander's longest gap meanwhile.
 *
 * The bystander and the flood each run in a worker thread of their own (test/helpers/*-worker.mjs,
 * which the tests use too), so the load this process makes cannot delay them. Prints one JSON line
 * last (bench/run.mjs reads it).
 *
 *   node bench/realtime-isolation.mjs [--flood=S] [--quick]      (--quick: 1 s of flood, one media worker only)
 */
import { Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { apiClient, createCall } from './lib/api.mjs';
import { commandLine } from './lib/cli.mjs';
import { freshServer } from './lib/earshot-server.mjs';
import { scrape } from './lib/prom.mjs';
import { HOST } from './lib/run/load.mjs';
import { log } from './lib/run/log.mjs';
import { runPrintingJson } from './lib/teardown.mjs';

const USAGE = 'usage: node bench/realtime-isolation.mjs [--flood=S] [--quick]';
const HELPERS = new URL('../test/helpers/', import.meta.url);
/** The default listener stream: 50 messages/s of 640 bytes of PCM16 plus a 4-byte frame header. */
const STREAM_BYTES_PER_S = 50 * 644;
/** Longer than this, a stalled listener counts as never dropped (SPEC §3's bar is 10 s). */
const GIVE_UP_S = 30;
const MODES = [
  { label: 'one process', mediaWorkers: 0 },
  { label: '1 media worker', mediaWorkers: 1 },
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `file` (in test/helpers/) in a worker thread; resolves once it posts `{ t: 'open' }`. */
async function startWorker(file, workerData) {
  const worker = new Worker(new URL(file, HELPERS), { workerData });
  await new Promise((resolve, reject) => {
    worker.on('message', (m) => {
      if (m?.t === 'open') resolve();
      else if (m?.t === 'error') reject(new Error(`${file}: ${m.message}`));
    });
    worker.once('error', reject);
  });
  return worker;
}

/** A call that must not notice: a tone in, a listener out, in a thread of its own. `stop()` → its gaps. */
async function bystander(ws, call) {
  const worker = await startWorker('bystander-worker.mjs', {
    ingestUrl: ws + call.ingestPath,
    listenUrl: ws + call.listenPath,
    gapMs: 100,
  });
  await sleep(1000); // the stream settles (first messages, jitter buffer)
  return {
    async stop() {
      const report = new Promise((resolve) => worker.on('message', (m) => m?.t === 'report' && resolve(m)));
      worker.postMessage('stop');
      const r = await report;
      await worker.terminate();
      return { messages: r.messages, maxGapMs: r.maxGapMs, gapsOver100: r.gaps.length, closed: r.closed };
    },
  };
}

/** A flood in a worker thread (test/helpers/flood-worker.mjs); resolves with the answers by status. */
function flood(options) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('flood-worker.mjs', HELPERS), { workerData: options });
    worker.once('message', (statuses) => {
      resolve(statuses);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

const listeners = async (base) => (await scrape(base)).get('earshot_listeners') ?? Number.NaN;

/** A `ws` client (it answers pings as it reads, as RFC 6455 clients do) on `url`. */
async function connectWs(url) {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  const closed = new Promise((r) => ws.once('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { socket: ws._socket, closed };
}

/** Reads at `bytesPerS`: pauses after each chunk for as long as that chunk is worth at that rate. */
function readSlowly(socket, bytesPerS) {
  const onData = (chunk) => {
    socket.pause();
    setTimeout(() => socket.resume(), (chunk.length / bytesPerS) * 1000);
  };
  socket.on('data', onData);
  return () => socket.off('data', onData);
}

/**
 * A listener on `url` stalled by `stall(socket)` (which returns how to undo it) once it has played
 * for a second: seconds until the server counts only `others` listeners again, and the close code
 * the client reads once it reads again (1006 if the server cut the TCP connection without one).
 */
async function stalledListener(base, url, others, stall) {
  const conn = await connectWs(url);
  await sleep(1000);
  const t0 = performance.now();
  const undo = stall(conn.socket);
  let droppedAfterS = null;
  while ((performance.now() - t0) / 1000 < GIVE_UP_S) {
    await sleep(100);
    if ((await listeners(base)) <= others) {
      droppedAfterS = (performance.now() - t0) / 1000;
      break;
    }
  }
  undo();
  conn.socket.resume();
  const code = await Promise.race([conn.closed, sleep(5000).then(() => null)]);
  return { droppedAfterS, closeCode: code };
}

async function measureMode(mode, opts) {
  const { server, port, apiKey } = await freshServer({
    name: `isolation-${mode.mediaWorkers}`,
    mediaWorkers: mode.mediaWorkers,
    // Every request of the flood within the limit: the flood is valid traffic, not 429s.
    extra: { EARSHOT_RATE_LIMIT_PER_MIN: '1000000' },
  });
  const ws = `ws://${HOST}:${port}`;
  try {
    const api = apiClient(server.base, apiKey);
    const call = await createCall(api);
    // API flood.
    let by = await bystander(ws, call);
    const t0 = performance.now();
    const statuses = await flood({
      kind: 'http',
      url: `${server.base}/v1/calls/${encodeURIComponent(call.id)}`,
      headers: { authorization: apiKey },
      concurrency: 50,
      durationMs: opts.floodS * 1000,
    });
    const floodS = (performance.now() - t0) / 1000;
    const floodGaps = await by.stop();
    const ok = statuses[200] ?? 0;
    const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
    log(
      `isolation (${mode.label}): flood ${Math.round(ok / floodS)} req/s answered 200 (${answered} in all), ` +
        `bystander longest gap ${floodGaps.maxGapMs} ms`,
    );
    // Stalled listeners on the bystander's call.
    by = await bystander(ws, call);
    const listenUrl = async () => {
      const u = new URL((await api('POST', `/v1/calls/${encodeURIComponent(call.id)}/listen`)).url);
      return ws + u.pathname + u.search;
    };
    const others = await listeners(server.base);
    const stopped = await stalledListener(server.base, await listenUrl(), others, (socket) => {
      socket.pause();
      return () => {};
    });
    const halfSpeed = await stalledListener(server.base, await listenUrl(), others, (socket) =>
      readSlowly(socket, STREAM_BYTES_PER_S / 2),
    );
    const stalledGaps = await by.stop();
    log(
      `isolation (${mode.label}): stopped reading → dropped after ${stopped.droppedAfterS?.toFixed(1)} s ` +
        `(${stopped.closeCode}); half speed → ${halfSpeed.droppedAfterS?.toFixed(1)} s (${halfSpeed.closeCode}); ` +
        `bystander longest gap ${stalledGaps.maxGapMs} ms`,
    );
    return {
      ...mode,
      flood: {
        seconds: floodS,
        concurrency: 50,
        okPerS: ok / floodS,
        statuses,
        bystander: floodGaps,
      },
      stalled: { stopped, halfSpeed, bystander: stalledGaps },
      serverAlive: server.alive(),
    };
  } finally {
    await server.stop();
  }
}

const cl = commandLine(process.argv.slice(2), {
  script: 'bench/realtime-isolation.mjs',
  usage: USAGE,
  options: { flood: { type: 'string' }, quick: { type: 'boolean' } },
});
const quick = cl.values.quick ?? false;
const opts = { floodS: cl.number('flood', quick ? 1 : 5, { min: 0.5, integer: false }) };

await runPrintingJson('realtime-isolation', quick ? 150 : 300, async () => {
  const modes = [];
  // --quick: the default mode on this machine only (a stalled listener takes its SPEC §3 seconds).
  for (const mode of quick ? MODES.slice(1) : MODES) modes.push(await measureMode(mode, opts));
  return { floodS: opts.floodS, modes };
});
