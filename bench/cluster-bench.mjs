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
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connect as natsConnect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { apiClient } from './lib/api.mjs';
import { scrape, sumOf } from './lib/prom.mjs';
import { percentile } from './lib/stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'earshot.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const execFileP = promisify(execFile);

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const v = argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return v === undefined ? fallback : Number(v);
};
const quick = argv.includes('--quick');
const LISTENERS = option('listeners', quick ? 50 : 1000);
const CALLS = option('calls', quick ? 2 : 10);
const LATENCY_S = option('latency-s', quick ? 4 : 24);
const WINDOW_S = option('window-s', quick ? 3 : 15);
const MARKER_EVERY = 8;
const FRAME_SAMPLES = 320;
/** A listener message of 640 bytes travels as 644 bytes (2-byte header + 16-bit length). */
const WIRE_BYTES = 644;

// ---- processes ---------------------------------------------------------------------------------

const children = new Set();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'earshot-cluster-bench-'));

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function teardown() {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise((resolve) => {
          c.once('exit', resolve);
          c.kill('SIGKILL');
        }),
    ),
  );
  rmSync(tmp, { recursive: true, force: true });
}

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

async function startNats() {
  const bin =
    process.env.EARSHOT_BENCH_NATS_SERVER ??
    ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(existsSync) ??
    'nats-server';
  const port = await freePort();
  const child = track(spawn(bin, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' }));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error('nats-server exited at start');
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('data', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return { url: `nats://127.0.0.1:${port}`, pid: child.pid };
    await sleep(25);
  }
  throw new Error('nats-server did not start');
}

async function startNode(name, env) {
  const child = track(
    spawn(process.execPath, [BIN, 'serve'], {
      env: {
        ...process.env,
        EARSHOT_HOST: '127.0.0.1',
        EARSHOT_PORT: '0',
        EARSHOT_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${out}`)), 20_000);
    let listening = false;
    const onData = (d) => {
      if (listening) return; // keep draining the pipe, without keeping the logs
      out += d;
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) {
        listening = true;
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}):\n${out}`)));
  });
  const { port } = new URL(url);
  return { name, url, port: Number(port), pid: child.pid };
}

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const metrics = (node) => scrape(node.url);
const dropped = (m) => sumOf(m, 'earshot_frames_dropped_total');

// ---- API ---------------------------------------------------------------------------------------

async function newCall(node, apiKey) {
  const api = apiClient(node.url, apiKey);
  const created = await api('POST', '/v1/calls', {});
  const listen = await api('POST', `/v1/calls/${created.call_id}/listen`);
  const listenPath = new URL(listen.url.replace(/^ws/, 'http'));
  return {
    id: created.call_id,
    ingestPath: (participant) =>
      `/ws/ingest/${created.call_id}?token=${created.ingest.token}&participant=${participant}&encoding=pcm16&sample_rate=16000`,
    listenPath: `${listenPath.pathname}${listenPath.search}`,
  };
}

// ---- audio -------------------------------------------------------------------------------------

const SILENCE = Buffer.alloc(FRAME_SAMPLES * 2);
const MARKER = (() => {
  const b = Buffer.alloc(FRAME_SAMPLES * 2);
  for (let i = 0; i < FRAME_SAMPLES; i++)
    b.writeInt16LE(Math.round(16384 * Math.sin((2 * Math.PI * 1000 * i) / 16000)), 2 * i);
  return b;
})();

function rmsDb(buf) {
  let acc = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) acc += buf.readInt16LE(i) ** 2;
  return 10 * Math.log10((2 * acc) / (buf.length / 2) / 32768 ** 2 + 1e-20);
}

/** Real-time pacing with deadlines (no drift): calls fn(i) every 20 ms until stopped. */
function pace(fn) {
  const start = performance.now();
  let i = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    while (performance.now() >= start + i * 20) fn(i++);
    setTimeout(tick, Math.max(0, start + i * 20 - performance.now()));
  };
  tick();
  return () => {
    stopped = true;
  };
}

// ---- raw sockets (the throughput phase) ---------------------------------------------------------

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);
const readBuffer = Buffer.allocUnsafe(64 * 1024);

function clientFrame(payload) {
  const frame = Buffer.alloc(8 + payload.length);
  frame[0] = 0x82;
  frame[1] = 0x80 | 126;
  frame.writeUInt16BE(payload.length, 2);
  payload.copy(frame, 8); // mask key 0: the payload goes out unchanged
  return frame;
}
const SILENCE_FRAME = clientFrame(SILENCE);
const TONE_FRAME = clientFrame(MARKER);

/** A WebSocket without frame parsing: counts received bytes into a shared buffer. */
function rawSocket(port, p) {
  return new Promise((resolve, reject) => {
    const conn = { socket: null, bytes: 0, open: false };
    let head = '';
    const socket = net.connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: readBuffer,
        callback(n, buf) {
          if (conn.open) {
            conn.bytes += n;
            return true;
          }
          head += buf.latin1Slice(0, n);
          if (!head.includes('\r\n\r\n')) return true;
          if (!head.startsWith('HTTP/1.1 101')) {
            socket.destroy();
            reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
            return false;
          }
          conn.open = true;
          conn.bytes += n - (head.indexOf('\r\n\r\n') + 4);
          resolve(conn);
          return true;
        },
      },
    });
    conn.socket = socket;
    socket.setNoDelay(true);
    socket.once('error', reject);
    socket.once('connect', () =>
      socket.write(
        `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
  });
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

// ---- phases ------------------------------------------------------------------------------------

async function latencyPhase(a, b, apiKey) {
  const call = await newCall(a, apiKey);
  const open = (node) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}${call.listenPath}`);
      const onsets = [];
      let wasLoud = false;
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        const loud = rmsDb(data) > -30;
        if (loud && !wasLoud) onsets.push(performance.now());
        wasLoud = loud;
      });
      ws.once('open', () => resolve({ ws, onsets }));
      ws.once('error', reject);
    });
  // Ingest first, listeners after: each room then starts from a steady flow (a burst at the start
  // would leave a deeper jitter buffer on one node and bias the comparison).
  const ingest = new WebSocket(`ws://127.0.0.1:${a.port}${call.ingestPath('caller')}`);
  await new Promise((r, j) => {
    ingest.once('open', r);
    ingest.once('error', j);
  });
  const sent = [];
  let measuring = false;
  // Each onset belongs to the latest marker sent before it (markers are 160 ms apart, latency is far less).
  const latencies = (onsets, from, until) => {
    const byMarker = new Map();
    for (const t of onsets) {
      if (t < from || t > until) continue;
      let k = sent.length - 1;
      while (k >= 0 && sent[k] > t) k--;
      if (k >= 0 && !byMarker.has(k)) byMarker.set(k, t - sent[k]);
    }
    return byMarker;
  };
  const stop = pace((i) => {
    if (i % MARKER_EVERY === 0 && measuring) {
      ingest.send(MARKER);
      sent.push(performance.now());
    } else ingest.send(SILENCE);
  });
  await sleep(1000);
  // Rounds of fresh listeners: each round creates new rooms (new jitter buffers) on both nodes, so
  // one burst cannot bias a whole run; markers are matched to the round's listeners by time.
  const rounds = Math.max(1, Math.round(LATENCY_S / 3));
  const s = new Map();
  const c = new Map();
  measuring = true;
  for (let r = 0; r < rounds; r++) {
    const same = await open(a);
    const cross = await open(b);
    await sleep(500);
    const from = performance.now();
    await sleep(2500);
    const until = performance.now();
    same.ws.close();
    cross.ws.close();
    for (const [k, v] of latencies(same.onsets, from, until)) s.set(k, v);
    for (const [k, v] of latencies(cross.onsets, from, until)) c.set(k, v);
    await sleep(200);
  }
  stop();
  ingest.close();
  const hop = [...c].filter(([k]) => s.has(k)).map(([k, v]) => v - s.get(k));
  const sorted = (m) => [...(m instanceof Map ? m.values() : m)].sort((x, y) => x - y);
  return { same: sorted(s), cross: sorted(c), hop: sorted(hop), markers: sent.length };
}

/** The NATS transport alone: one 680-byte frame-sized message, publisher → another connection. */
async function natsTransport(natsUrl, count) {
  const pub = await natsConnect({ servers: natsUrl });
  const sub = await natsConnect({ servers: natsUrl });
  const samples = [];
  let sentAt = 0;
  let got = () => {};
  sub.subscribe('bench.hop', {
    callback: () => {
      samples.push(performance.now() - sentAt);
      got();
    },
  });
  await sub.flush();
  const payload = new Uint8Array(680);
  for (let i = 0; i < count; i++) {
    const arrived = new Promise((r) => (got = r));
    sentAt = performance.now();
    pub.publish('bench.hop', payload);
    await arrived;
    await sleep(20);
  }
  await pub.close();
  await sub.close();
  return samples.sort((x, y) => x - y);
}

async function throughputPhase(label, ingestNode, listenNode, nats, nodes, calls) {
  const listeners = await mapLimit(
    Array.from({ length: LISTENERS }, (_, i) => calls[i % calls.length]),
    64,
    (call) => rawSocket(listenNode.port, call.listenPath),
  );
  const ingests = await mapLimit(
    calls.flatMap((call) => ['caller', 'agent'].map((p) => call.ingestPath(p))),
    16,
    (p) => rawSocket(ingestNode.port, p),
  );
  const stop = pace((i) => {
    // Both participants speak in turns (a 1 kHz tone), so the mix always has content.
    for (const [k, s] of ingests.entries())
      s.socket.write((i >> 5) % 2 === k % 2 ? TONE_FRAME : SILENCE_FRAME);
  });
  const pong = setInterval(() => {
    for (const s of [...listeners, ...ingests]) s.socket.write(PONG);
  }, 10_000);
  await sleep(2000); // warm up
  const pids = [...nodes.map((n) => n.pid), nats.pid];
  const cpu0 = pids.map(cpuSeconds);
  const m0 = await Promise.all(nodes.map(metrics));
  const bytes0 = listeners.reduce((s, l) => s + l.bytes, 0);
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const wallS = (performance.now() - t0) / 1000;
  const bytes1 = listeners.reduce((s, l) => s + l.bytes, 0);
  const cpu1 = pids.map(cpuSeconds);
  const m1 = await Promise.all(nodes.map(metrics));
  stop();
  clearInterval(pong);
  for (const s of [...listeners, ...ingests]) s.socket.destroy();
  await sleep(500);
  const [cpuA, cpuB, cpuNats] = cpu1.map((c, i) => (100 * (c - cpu0[i])) / wallS);
  const get = (m, k) => m.get(k) ?? 0;
  return {
    label,
    serverOut: (get(m1[1], 'earshot_frames_out_total') - get(m0[1], 'earshot_frames_out_total')) / wallS,
    openListeners: get(m1[1], 'earshot_listeners'),
    delivered: (bytes1 - bytes0) / WIRE_BYTES / wallS,
    expected: LISTENERS * 50,
    drops: m1.map((m, i) => dropped(m) - dropped(m0[i])),
    cpuA,
    cpuB,
    cpuNats,
    rssB: rssMiB(nodes[1].pid),
  };
}

// ---- main --------------------------------------------------------------------------------------

async function main() {
  if (!existsSync(path.join(root, 'dist', 'cli', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first');
  const nats = await startNats();
  const env = {
    EARSHOT_DATABASE_URL: `sqlite:${path.join(tmp, 'earshot.db')}`,
    EARSHOT_NATS_URL: nats.url,
    EARSHOT_NATS_PREFIX: 'bench',
    EARSHOT_RATE_LIMIT_PER_MIN: '100000',
    // The load generator is one client address with thousands of sockets on a few calls of one org.
    EARSHOT_MAX_LISTENERS_PER_CALL: '100000',
    EARSHOT_MAX_LISTENERS_PER_ORG: '100000',
    EARSHOT_MAX_CONNECTIONS_PER_ADDRESS: '100000',
    EARSHOT_MAX_ACTIVE_CALLS_PER_ORG: '100000',
  };
  const a = await startNode('node A', env);
  const b = await startNode('node B', env);
  const { stdout } = await execFileP(
    process.execPath,
    [BIN, 'org', 'create', 'bench', '--live-listen', '--json'],
    {
      env: { ...process.env, EARSHOT_DATABASE_URL: env.EARSHOT_DATABASE_URL },
    },
  );
  const apiKey = JSON.parse(stdout).api_key;

  console.error(`latency: ${LATENCY_S} s, a marker every ${MARKER_EVERY * 20} ms …`);
  const lat = await latencyPhase(a, b, apiKey);
  const transport = await natsTransport(nats.url, quick ? 50 : 500);
  const calls = [];
  for (let i = 0; i < CALLS; i++) calls.push(await newCall(a, apiKey));
  console.error(
    `throughput: ${CALLS} calls × 2 participants → ${LISTENERS} listeners on node B, ${WINDOW_S} s per phase …`,
  );
  const same = await throughputPhase('same node (ingest on B)', b, b, nats, [a, b], calls);
  const calls2 = [];
  for (let i = 0; i < CALLS; i++) calls2.push(await newCall(a, apiKey));
  const viaNats = await throughputPhase('via NATS (ingest on A)', a, b, nats, [a, b], calls2);

  const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
  const lines = [
    `### Cluster benchmark (${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'}, node ${process.version})`,
    '',
    `Latency: marker message sent on ingest → received by a listener; ${lat.markers} markers sent in ${LATENCY_S} s, counted while both listeners of a round were settled (the 0.7 s between rounds is not).`,
    '',
    '| listener | p50 | p99 | max | markers counted |',
    '|---|---|---|---|---|',
    `| same node as ingest | ${ms(percentile(lat.same, 50))} | ${ms(percentile(lat.same, 99))} | ${ms(lat.same.at(-1))} | ${lat.same.length} |`,
    `| other node (via NATS) | ${ms(percentile(lat.cross, 50))} | ${ms(percentile(lat.cross, 99))} | ${ms(lat.cross.at(-1))} | ${lat.cross.length} |`,
    `| **NATS hop** (difference, per marker) | ${ms(percentile(lat.hop, 50))} | ${ms(percentile(lat.hop, 99))} | ${ms(lat.hop.at(-1))} | ${lat.hop.length} |`,
    `| NATS transport alone (680 B, publish → other connection) | ${ms(percentile(transport, 50))} | ${ms(percentile(transport, 99))} | ${ms(transport.at(-1))} | ${transport.length} messages |`,
    '',
    "The hop includes the phase offset between the two nodes' 20 ms mixing clocks (fixed for a pair of",
    'processes, 0–20 ms, 10 ms on average): a frame waits for the next tick of the node that mixes it.',
    '',
    `Throughput: ${CALLS} calls × 2 participants, ${LISTENERS} listeners on node B (raw sockets), ${WINDOW_S} s window.`,
    '',
    '| phase | listeners open | written msg/s (B) | received msg/s | expected | drops (A / B) | CPU node A | CPU node B | CPU nats-server | RSS node B |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...[same, viaNats].map(
      (r) =>
        `| ${r.label} | ${r.openListeners} | ${r.serverOut.toFixed(0)} | ${r.delivered.toFixed(0)} | ${r.expected} | ${r.drops[0]} / ${r.drops[1]} | ${r.cpuA.toFixed(0)} % | ${r.cpuB.toFixed(0)} % | ${r.cpuNats.toFixed(0)} % | ${r.rssB.toFixed(0)} MiB |`,
    ),
    '',
    `Node B CPU via NATS / same node: ${(viaNats.cpuB / Math.max(1e-9, same.cpuB)).toFixed(2)}×.`,
  ];
  console.log(lines.join('\n'));
}

let exitCode = 0;
const onSignal = () => {
  teardown().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
try {
  await main();
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await teardown();
}
process.exit(exitCode);
