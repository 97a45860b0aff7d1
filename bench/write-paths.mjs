/**
 * The three ways one listener message can reach N WebSocket sockets, timed in isolation: the CPU
 * the sending process spends per socket per message (user + system, so the kernel's TCP work is
 * included), with nothing else running in it.
 *
 *   ws.send       the `ws` library frames and writes the payload for each socket (the naive baseline)
 *   socket.write  one pre-framed Buffer passed to each socket's `write` (the floor baseline; what
 *                 earshot does with EARSHOT_DIRECT_WRITES=off)
 *   direct        the same Buffer to every socket in one call into earshot's addon
 *                 (native/direct_write.c: one non-blocking send() per socket in C)
 *   earshot       earshot's own listener path around it (dist/live/listener.js: closed and backlog
 *                 checks, then the addon), so the difference to `direct` is earshot's JavaScript
 *   held3 …       three messages held back and written at once (catch-up bursts, write coalescing):
 *                 cork + 3 writes + uncork (one writev), the addon with one 3-message buffer, and
 *                 earshot's Listener cork/uncork through the batch; CPU still per message
 *
 * The receiving sockets live in a child process that reads and discards. Each round writes one
 * message to every socket, then waits a few ms so that the receiver drains and no write ever meets
 * a full socket buffer (which would time the fallback, not the path). Methods alternate round-robin
 * over several repeats; the median per method is printed.
 *
 * Usage: npm run bench:write-paths -- [--sockets=1000] [--rounds=200] [--repeats=5] [--help]   (runs
 * against dist/ and build/Release/earshot_direct_write.node, which `npm ci` builds)
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { DirectFd, DirectWriteBatch } from '../dist/live/direct-write.js';
import { Listener, listenerPolicy, sendToAll } from '../dist/live/listener.js';
import { commandLine } from './lib/cli.mjs';
import { connectRaw, mapLimit, serverBinaryFrame, valuesOrThrow } from './lib/raw-ws.mjs';
import { LISTEN_PAYLOAD_BYTES } from './lib/signals.mjs';
import { median } from './lib/stats.mjs';

const USAGE = `usage: node bench/write-paths.mjs [options]        (npm run bench:write-paths -- [options])

  --sockets=N    receiving sockets (default 1000)
  --rounds=N     rounds per method and repeat, one message (or 3 held) to every socket (default 200)
  --repeats=N    repeats, methods round-robin (default 5)
  --help         this text`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === 'sink') {
  // The receiving side: N raw WebSocket clients that count bytes into one shared buffer.
  const [port, count] = [Number(process.argv[3]), Number(process.argv[4])];
  const readBuffer = Buffer.alloc(64 * 1024);
  const conns = valuesOrThrow(
    await mapLimit(Array.from({ length: count }), 100, () =>
      connectRaw({ host: '127.0.0.1', port, path: '/', readBuffer }),
    ),
  );
  process.on('message', (m) => {
    if (m === 'bytes') process.send({ bytes: conns.reduce((sum, c) => sum + c.bytes, 0) });
  });
  process.send('ready');
} else {
  await main();
}

async function main() {
  const cl = commandLine(process.argv.slice(2), {
    script: 'bench/write-paths.mjs',
    usage: USAGE,
    options: { sockets: { type: 'string' }, rounds: { type: 'string' }, repeats: { type: 'string' } },
  });
  const sockets = cl.number('sockets', 1000, { min: 1 });
  const rounds = cl.number('rounds', 200, { min: 1 });
  const repeats = cl.number('repeats', 5, { min: 1 });
  const addon = createRequire(import.meta.url)('../build/Release/earshot_direct_write.node');

  const server = http.createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const clients = [];
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => clients.push(ws));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sink = fork(fileURLToPath(import.meta.url), ['sink', String(server.address().port), String(sockets)]);
  await new Promise((resolve, reject) => {
    sink.once('message', resolve);
    sink.once('exit', (code) => reject(new Error(`sink exited with ${code}`)));
  });
  while (clients.length < sockets) await sleep(10);

  const payload = Buffer.alloc(LISTEN_PAYLOAD_BYTES, 1);
  const frame = serverBinaryFrame(payload);
  const raw = clients.map((ws) => ws._socket);
  const fds = Int32Array.from(raw, (s) => new DirectFd(s).get(0));
  const results = new Int32Array(sockets);
  let shortWrites = 0;
  const format = { sampleRateHz: 16000, encoding: 'pcm16', channels: 1, frameMs: 20, events: false };
  const listeners = clients.map((ws) => new Listener(ws, format, listenerPolicy(format)));
  const batch = DirectWriteBatch.create('on');
  const counts = { sent: 0, dropped: 0, evicted: 0 };
  let nowMs = 0;
  const frame3 = Buffer.concat([frame, frame, frame]);
  /** Each method writes `messages` messages to every socket per round. */
  const methods = {
    'ws.send': {
      messages: 1,
      send: () => {
        for (const ws of clients) ws.send(payload);
      },
    },
    'socket.write': {
      messages: 1,
      send: () => {
        for (const s of raw) s.write(frame);
      },
    },
    direct: {
      messages: 1,
      send: () => {
        if (addon.writeAll(fds, sockets, frame, results) !== sockets) shortWrites++;
      },
    },
    earshot: {
      messages: 1,
      send: () => {
        sendToAll(listeners, frame, (nowMs += 20), counts, batch);
      },
    },
    // Three ticks held back and written at once (a catch-up burst, or write coalescing at k = 3).
    'held3 writev': {
      messages: 3,
      send: () => {
        for (const s of raw) {
          s.cork();
          s.write(frame);
          s.write(frame);
          s.write(frame);
          s.uncork();
        }
      },
    },
    'held3 direct': {
      messages: 3,
      send: () => {
        if (addon.writeAll(fds, sockets, frame3, results) !== sockets) shortWrites++;
      },
    },
    'held3 earshot': {
      messages: 3,
      send: () => {
        for (const l of listeners) l.cork();
        for (let t = 0; t < 3; t++) sendToAll(listeners, frame, (nowMs += 20), counts, batch);
        for (const l of listeners) l.uncork(batch);
        batch.flushFrames();
      },
    },
  };

  const samples = Object.fromEntries(Object.keys(methods).map((m) => [m, []]));
  for (let r = 0; r < repeats; r++) {
    for (const [name, { messages, send }] of Object.entries(methods)) {
      let cpu = 0;
      for (let i = 0; i < rounds; i++) {
        const t0 = process.cpuUsage();
        send();
        // Let the loop run what the writes scheduled (write callbacks), then the receiver drain.
        await new Promise((resolve) => setImmediate(resolve));
        const t = process.cpuUsage(t0);
        cpu += t.user + t.system;
        await sleep(4);
      }
      samples[name].push(cpu / (rounds * sockets * messages));
    }
  }

  // Every byte must have arrived: a path that lost some would look cheap for the wrong reason.
  await sleep(200);
  const perRepeat = Object.values(methods).reduce((sum, m) => sum + m.messages, 0);
  const expected = repeats * rounds * sockets * frame.length * perRepeat;
  sink.send('bytes');
  const { bytes } = await new Promise((resolve) => sink.once('message', resolve));
  sink.kill();
  server.close();
  for (const s of raw) s.destroy();

  console.log(
    `${sockets} sockets, ${rounds} rounds of 1 (or 3 held) messages of ${frame.length} bytes per method, ${repeats} repeats`,
  );
  console.log('CPU per socket per message (µs, median of repeats; all repeats):');
  for (const [name, values] of Object.entries(samples)) {
    console.log(
      `  ${name.padEnd(14)} ${median(values).toFixed(2)}   [${values.map((v) => v.toFixed(2)).join(', ')}]`,
    );
  }
  console.log(
    `bytes received ${bytes} of ${expected}; direct rounds with a short write: ${shortWrites}; ` +
      `earshot messages dropped ${counts.dropped}`,
  );
  if (bytes !== expected || counts.sent !== repeats * rounds * sockets * 4) process.exitCode = 1;
}
