/**
 * The fan-out baselines (a child of bench/run.mjs, one process per mode), serving the same listeners
 * the same bytes as earshot — one 640-byte message per call every 20 ms to each of its listeners,
 * a new payload Buffer per call per tick (as a mixer would produce) — with no ingest and no mixing:
 *
 *  naive  the `ws` library: `ws.send(payload)` per listener (ws frames and writes each send itself),
 *         on a plain `setInterval(…, 20)`.
 *  floor  no WebSocket library: a hand-written handshake, then the message framed once per call per
 *         tick and the same Buffer passed to `socket.write` of every listener.
 *
 * Listeners connect to /listen/<call index>. The floor's ticks are deadline-paced like earshot's
 * clock; CPU is compared per message sent, so timer drift does not matter.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { Pacer } from './lib/pacer.mjs';
import { acceptUpgrade, serverBinaryFrame } from './lib/raw-ws.mjs';
import { serveRpc } from './lib/rpc.mjs';
import { LISTEN_PAYLOAD_BYTES, listenPayloads } from './lib/signals.mjs';

const mode = process.argv[2];
if (mode !== 'naive' && mode !== 'floor') throw new Error('usage: baseline-server.mjs naive|floor <calls>');
const callCount = Number(process.argv[3] ?? 200);

/** Listener sets per call (ws.WebSocket for naive, net.Socket for floor). */
const calls = Array.from({ length: callCount }, () => new Set());
const payloads = listenPayloads();
let frame = 0;
let messagesSent = 0;
let listeners = 0;

const server = http.createServer((_req, res) => {
  res.writeHead(404).end();
});
const wss =
  mode === 'naive'
    ? new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false })
    : null;

server.on('upgrade', (req, socket, head) => {
  const m = /^\/listen\/(\d+)$/.exec(req.url ?? '');
  const set = m ? calls[Number(m[1])] : undefined;
  if (!set) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  if (wss) {
    wss.handleUpgrade(req, socket, head, (ws) => {
      set.add(ws);
      listeners++;
      ws.on('close', () => {
        set.delete(ws);
        listeners--;
      });
      ws.on('error', () => {});
    });
    return;
  }
  if (!acceptUpgrade(req, socket)) return;
  set.add(socket);
  listeners++;
  // Listeners only send pongs: read and ignore.
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.once('close', () => {
    set.delete(socket);
    listeners--;
  });
});

function tick() {
  const source = payloads[frame++ % payloads.length];
  for (const set of calls) {
    if (set.size === 0) continue;
    if (wss) {
      const payload = Buffer.allocUnsafe(LISTEN_PAYLOAD_BYTES);
      source.copy(payload);
      for (const ws of set) {
        if (ws.readyState === 1) {
          ws.send(payload);
          messagesSent++;
        }
      }
    } else {
      const message = serverBinaryFrame(source);
      for (const socket of set) {
        if (!socket.destroyed) {
          socket.write(message);
          messagesSent++;
        }
      }
    }
  }
}
const pacer = wss ? null : new Pacer({ slots: 1, periodMs: 20 }, tick);
let interval;

const listening = new Promise((resolve) => {
  server.listen(0, '127.0.0.1', () => {
    if (pacer) pacer.start();
    else interval = setInterval(tick, 20);
    resolve(server.address().port);
  });
});

serveRpc({
  /** Resolves with the port once the server listens. */
  port() {
    return listening;
  },
  stats() {
    return { messagesSent, listeners, skipped: pacer?.skipped ?? 0 };
  },
  shutdown() {
    pacer?.stop();
    clearInterval(interval);
    for (const set of calls) for (const s of set) (s.terminate ?? s.destroy).call(s);
    server.close();
  },
});
