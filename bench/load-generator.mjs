/**
 * The bulk load generator (a child of bench/run.mjs): participants ingesting μ-law 8 kHz in real
 * time over raw WebSockets, and cheap listeners that only count bytes. Driven over IPC. The
 * `family…` commands (bench/lib/family-load.mjs) ingest as each platform family does, for
 * bench/ingest-families.mjs.
 *
 * Cheap listeners read in batches: after each read a socket stops reading until the next batch
 * (every `readEveryMs`), so the kernel coalesces a few messages per read. This only changes how
 * often the *client* wakes up — the server writes every message to the kernel as it would for any
 * client, and 100 ms of audio (3.2 KB) is far below a socket buffer, so its backlog stays 0.
 */

import { familyLoad } from './lib/family-load.mjs';
import { Pacer } from './lib/pacer.mjs';
import { clientBinaryFrame, connectRaw, mapLimit, PONG } from './lib/raw-ws.mjs';
import { serveRpc } from './lib/rpc.mjs';
import { listenPayloads, toneMessages } from './lib/signals.mjs';

const CONNECT_CONCURRENCY = 64;
/** Every socket sends an unsolicited pong this often (the server pings every 15 s and cuts the silent). */
const PONG_EVERY_MS = 10_000;
const PONG_SWEEP_MS = 100;

const readBuffer = Buffer.allocUnsafe(64 * 1024);
/** group name → Set of listener connections */
const groups = new Map();
const ingest = [];
/** Every open connection, for pongs. */
const all = new Set();
let readEveryMs = 100;
let retiredBytes = 0;
let unexpectedCloses = 0;
let ingestWrites = 0;

// Ten phase slots 2 ms apart: real calls are not aligned to one another.
const SLOTS = 10;
const slotSockets = Array.from({ length: SLOTS }, () => []);
const slotFrame = new Array(SLOTS).fill(0);
const pacer = new Pacer({ slots: SLOTS, periodMs: 20 }, (slot) => {
  const i = slotFrame[slot]++ % 50;
  for (const s of slotSockets[slot]) {
    if (s.conn.closed) continue;
    s.conn.socket.write(s.messages[i]);
    ingestWrites++;
  }
});

let pongIterator = all.values();
const pongTimer = setInterval(() => {
  const n = Math.ceil((all.size * PONG_SWEEP_MS) / PONG_EVERY_MS);
  for (let k = 0; k < n; k++) {
    let r = pongIterator.next();
    if (r.done) {
      pongIterator = all.values();
      r = pongIterator.next();
      if (r.done) return;
    }
    if (!r.value.closed) r.value.socket.write(PONG);
  }
}, PONG_SWEEP_MS);

const readTimer = setInterval(() => {
  if (readEveryMs <= 0) return;
  for (const set of groups.values()) {
    for (const conn of set) {
      if (conn.paused && !conn.closed) {
        conn.paused = false;
        conn.socket.resume();
      }
    }
  }
}, 100);

function track(conn) {
  all.add(conn);
  conn.socket.once('close', () => {
    all.delete(conn);
    if (!conn.expectedClose) unexpectedCloses++;
  });
}

// Ingest as Twilio, Telnyx, AudioHook or the generic endpoint, in pausable groups (own pacer).
const families = familyLoad({ track, readBuffer });

const messagesByKind = {
  caller: toneMessages(440).map(clientBinaryFrame),
  agent: toneMessages(1000).map(clientBinaryFrame),
  // 16 kHz PCM16 (no resampling on the way in), for comparisons.
  pcm16: listenPayloads().map(clientBinaryFrame),
};

serveRpc({
  ...families.handlers,
  /** Opens ingest sockets: `sockets` = [{ path, kind: 'caller' | 'agent' }]. */
  async ingest({ host, port, sockets }) {
    const results = await mapLimit(sockets, CONNECT_CONCURRENCY, async (s) => {
      const conn = await connectRaw({ host, port, path: s.path, readBuffer });
      track(conn);
      const entry = { conn, messages: messagesByKind[s.kind] };
      ingest.push(entry);
      slotSockets[ingest.length % SLOTS].push(entry);
      return conn;
    });
    return summarize(results);
  },
  ingestStart() {
    pacer.start();
    return true;
  },
  ingestStop() {
    pacer.stop();
    return true;
  },
  /**
   * Opens cheap listeners on every path of `paths` into `group`, `concurrency` handshakes at a time
   * (a storm: all of them at once). Also reports how long each took to be admitted (ms).
   */
  async listen({
    host,
    port,
    group,
    paths,
    readEvery,
    budgetMs = Number.POSITIVE_INFINITY,
    concurrency = CONNECT_CONCURRENCY,
    timeoutMs,
  }) {
    if (readEvery !== undefined) readEveryMs = readEvery;
    let set = groups.get(group);
    if (!set) groups.set(group, (set = new Set()));
    // An overloaded server accepts slowly: stop starting connections once the budget is spent.
    const deadline = performance.now() + budgetMs;
    const started = performance.now();
    const admittedMs = [];
    const connectedMs = [];
    const results = await mapLimit(paths, concurrency, async (path) => {
      if (performance.now() > deadline) throw new Error(`connect budget of ${budgetMs} ms spent`);
      const conn = await connectRaw({
        host,
        port,
        path,
        readBuffer,
        pauseAfterRead: readEveryMs > 0,
        ...(timeoutMs ? { timeoutMs } : {}),
      });
      admittedMs.push(performance.now() - started);
      connectedMs.push(conn.connectedAt - started);
      track(conn);
      set.add(conn);
      return conn;
    });
    return { ...summarize(results), admittedMs, connectedMs };
  },
  /**
   * Per listener of `group`, the bytes received over the next `windowMs`: how many got at least
   * `share` of `bytesPerS`, and how many closed meanwhile.
   */
  async rates({ group, windowMs, bytesPerS, share = 0.9 }) {
    const set = [...(groups.get(group) ?? [])];
    const before = set.map((c) => c.bytes);
    await new Promise((r) => setTimeout(r, windowMs));
    const expected = (bytesPerS * windowMs) / 1000;
    let full = 0;
    let closed = 0;
    const shares = [];
    set.forEach((c, i) => {
      if (c.closed) closed++;
      const got = (c.bytes - before[i]) / expected;
      shares.push(got);
      if (got >= share) full++;
    });
    shares.sort((a, b) => a - b);
    return { listeners: set.length, full, closed, minShare: shares[0] ?? 0 };
  },
  /** Closes (RST-free destroy) every listener of `group`. */
  unlisten({ group }) {
    const set = groups.get(group);
    if (!set) return 0;
    for (const conn of set) {
      conn.expectedClose = true;
      retiredBytes += conn.bytes;
      conn.socket.destroy();
    }
    groups.delete(group);
    return set.size;
  },
  stats() {
    let bytes = retiredBytes;
    let listeners = 0;
    for (const set of groups.values()) {
      for (const conn of set) {
        bytes += conn.bytes;
        if (!conn.closed) listeners++;
      }
    }
    return {
      bytes,
      listeners,
      unexpectedCloses,
      ingestWrites,
      ingestSkipped: pacer.skipped,
      ingestLateRuns: pacer.lateRuns,
      ingestLateMaxMs: pacer.lateMaxMs,
    };
  },
  resetPacerStats() {
    pacer.resetStats();
    return true;
  },
  shutdown() {
    pacer.stop();
    families.stop();
    clearInterval(pongTimer);
    clearInterval(readTimer);
    for (const conn of all) {
      conn.expectedClose = true;
      conn.socket.destroy();
    }
  },
});

function summarize(results) {
  const failed = results.filter((r) => !r.ok);
  return {
    opened: results.length - failed.length,
    failed: failed.length,
    firstError: failed[0] ? String(failed[0].error.message) : null,
  };
}
