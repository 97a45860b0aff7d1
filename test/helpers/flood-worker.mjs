// A flood of one kind of request against a server, run in a worker thread (bounded in time and in
// concurrency, loopback only). Reports how many requests were answered, by status.
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

const {
  kind,
  url,
  concurrency,
  durationMs,
  method = 'GET',
  headers = {},
  body,
  hold = 2000,
  localAddress,
} = workerData;
const target = new URL(url);
const statuses = {};
const count = (status) => (statuses[status] = (statuses[status] ?? 0) + 1);
const deadline = Date.now() + durationMs;

/** One keep-alive HTTP request; resolves when its response has been read. */
function httpOnce(agent) {
  return new Promise((resolve) => {
    const h = { ...headers };
    if (h.authorization === '$random') h.authorization = `esk_${randomBytes(32).toString('base64url')}`;
    const req = request(url, { method, headers: h, agent, localAddress }, (res) => {
      res.resume();
      res.on('end', () => {
        count(res.statusCode);
        resolve();
      });
      res.on('error', () => resolve());
    });
    req.on('error', () => {
      count('error');
      resolve();
    });
    req.end(body);
  });
}

/** One WebSocket upgrade by hand: waits for the answer's status line, then drops the socket. */
function upgradeOnce() {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress });
    let head = '';
    const done = (status) => {
      count(status);
      socket.destroy();
      resolve();
    };
    socket.setTimeout(5000, () => done('timeout'));
    socket.on('error', () => done('error'));
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) done(Number(m[1]));
    });
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}

async function loop(once) {
  while (Date.now() < deadline) await once();
}

/** `concurrency` idle TCP connections, held for `hold` ms, then all cut at once. */
async function idle() {
  const sockets = await Promise.all(
    Array.from(
      { length: concurrency },
      () =>
        new Promise((resolve) => {
          const s = net.connect({ host: target.hostname, port: Number(target.port), localAddress }, () => {
            count('open');
            resolve(s);
          });
          s.on('error', () => {
            count('error');
            resolve(s);
          });
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, hold));
  for (const s of sockets) s.resetAndDestroy?.() ?? s.destroy();
}

if (kind === 'http') {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  await Promise.all(Array.from({ length: concurrency }, () => loop(() => httpOnce(agent))));
  agent.destroy();
} else if (kind === 'upgrade') {
  await Promise.all(Array.from({ length: concurrency }, () => loop(upgradeOnce)));
} else if (kind === 'idle') {
  await idle();
}
parentPort.postMessage(statuses);
