/**
 * The load generator's ingest of every family (bench/lib/family-clients.mjs), for
 * bench/ingest-families.mjs: RPC handlers that bench/load-generator.mjs adds to its own. Streams are
 * grouped (one group per server under test) and paced like the generator's own ingest — deadline
 * pacing from performance.now(), ten phase slots 2 ms apart — on a pacer of their own; a group can
 * be paused and resumed, so that several servers hold their calls while only one is measured.
 * WebSocket connections are the generator's raw ones (connectRaw, its pongs); AudioSocket's TCP and
 * RTP's UDP sockets are plain, and closed here at stop.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { callConnections } from './family-clients.mjs';
import { Pacer } from './pacer.mjs';
import { connectRaw, mapLimit } from './raw-ws.mjs';

const SLOTS = 10;
const CONNECT_CONCURRENCY = 64;
/** How long a stream waits after its preamble before audio (the server authorizes its start). */
const START_DELAY_MS = 300;

/**
 * `track(conn)` registers a connection with the generator (pongs, unexpected closes, shutdown);
 * `readBuffer` is its shared read buffer. Returns { handlers, stop }.
 */
export function familyLoad({ track, readBuffer }) {
  /** group → { paused, streams: [] } */
  const groups = new Map();
  const slotStreams = Array.from({ length: SLOTS }, () => []);
  /** The TCP and UDP connections ({ socket, closed, close() }), which the generator does not track. */
  const plain = new Set();
  let placed = 0;
  let writes = 0;
  let messages = 0;

  const pacer = new Pacer({ slots: SLOTS, periodMs: 20 }, (slot) => {
    for (const s of slotStreams[slot]) {
      if (s.group.paused || !s.live || s.conn.closed) continue;
      const out = s.tick(s.i++);
      if (Array.isArray(out)) {
        for (const b of out) s.write(b);
        writes += out.length;
        messages += out.length;
      } else {
        s.write(out);
        writes++;
        messages++;
      }
    }
  });

  const groupOf = (name) => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, paused: true, streams: [] }));
    return g;
  };

  const handlers = {
    /**
     * Connects every call of `calls` ([{ id, ingestPath?, rtpPorts? }]) as `family` to host:port (a
     * connection's own port, if it has one) into `group` (created paused), with `key` as the
     * platforms' ingest key; sends each connection's preamble and (AudioHook) waits for the server's
     * answer; audio starts START_DELAY_MS later, once the group runs.
     */
    async familyIngest({ host, port, family, group, calls, key }) {
      const g = groupOf(group);
      const specs = calls.flatMap((call) => callConnections(family, call, key));
      const results = await mapLimit(specs, CONNECT_CONCURRENCY, async (spec) => {
        let replied;
        const reply = new Promise((resolve) => {
          replied = resolve;
        });
        let conn;
        let write;
        if (spec.transport === 'ws') {
          conn = await connectRaw({
            host,
            port,
            path: spec.path,
            headers: spec.headers,
            readBuffer,
            onBytes: () => replied(),
          });
          track(conn);
          write = (b) => conn.socket.write(b);
        } else {
          conn = await (spec.transport === 'tcp' ? connectTcp : connectUdp)(host, spec.port ?? port);
          plain.add(conn);
          write = spec.transport === 'tcp' ? (b) => conn.socket.write(b) : (b) => conn.socket.send(b);
        }
        for (const m of spec.preamble) write(m);
        if (spec.waitForReply) {
          let timer;
          const timeout = new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('no answer to the opening message within 10 s')),
              10_000,
            );
          });
          try {
            await Promise.race([reply, timeout]);
          } finally {
            clearTimeout(timer);
          }
        }
        const stream = { conn, write, tick: spec.tick, i: 0, group: g, live: false };
        g.streams.push(stream);
        slotStreams[placed++ % SLOTS].push(stream);
        setTimeout(() => {
          stream.live = true;
        }, START_DELAY_MS);
        return conn;
      });
      const failed = results.filter((r) => !r.ok);
      return {
        opened: results.length - failed.length,
        failed: failed.length,
        firstError: failed[0] ? String(failed[0].error.message) : null,
      };
    },
    /** Pauses (`paused` true) or resumes a group's audio; the pacer runs while any group may send. */
    familyPause({ group, paused }) {
      groupOf(group).paused = paused;
      pacer.start();
      return true;
    },
    /** Writes and messages sent so far, the pacer's lateness, and the group's closed sockets. */
    familyStats({ group } = {}) {
      const g = group === undefined ? null : groups.get(group);
      return {
        writes,
        messages,
        lateRuns: pacer.lateRuns,
        lateMaxMs: pacer.lateMaxMs,
        skipped: pacer.skipped,
        closed: g ? g.streams.filter((s) => s.conn.closed).length : 0,
      };
    },
    familyResetPacerStats() {
      pacer.resetStats();
      return true;
    },
  };
  return {
    handlers,
    stop() {
      pacer.stop();
      for (const conn of plain) conn.close();
    },
  };
}

/** A plain TCP connection (no handshake; nothing read back): { socket, closed, close() }, once connected. */
function connectTcp(host, port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const conn = { socket, closed: false, close: () => socket.destroy() };
    socket.setNoDelay(true);
    socket.on('error', reject); // after the connect, a no-op: 'close' follows
    socket.once('close', () => {
      conn.closed = true;
    });
    socket.once('connect', () => resolve(conn));
  });
}

/**
 * A UDP socket connected to host:port: { socket, closed, close() }. An error (ICMP port unreachable
 * once the server released the port: ECONNREFUSED on a later send) closes it.
 */
function connectUdp(host, port) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const conn = {
      socket,
      closed: false,
      close() {
        if (conn.closed) return;
        conn.closed = true;
        socket.close();
      },
    };
    socket.on('error', (err) => {
      reject(err);
      conn.close();
    });
    socket.once('close', () => {
      conn.closed = true;
    });
    socket.connect(port, host, () => resolve(conn));
  });
}
