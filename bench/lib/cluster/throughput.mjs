/**
 * The cluster benchmark's throughput phase: `calls` calls × 2 participants ingested (raw sockets,
 * PCM16 16 kHz, the two speaking in turns) on one node, `listeners` byte-counting raw listeners
 * on node B; delivered messages/s against expected, drops, and the CPU of both nodes and NATS.
 */
import { participantPath } from '../api.mjs';
import { Pacer } from '../pacer.mjs';
import { cpuWindow, rssBytes } from '../proc.mjs';
import { scrape, sumOf } from '../prom.mjs';
import { clientBinaryFrame, connectRaw, mapLimit, PONG, valuesOrThrow } from '../raw-ws.mjs';
import { LISTEN_MESSAGE_BYTES, LISTEN_PAYLOAD_BYTES, pcm16Tone } from '../signals.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SILENCE_FRAME = clientBinaryFrame(Buffer.alloc(LISTEN_PAYLOAD_BYTES));
const TONE_FRAME = clientBinaryFrame(pcm16Tone(1000, 16384));
const readBuffer = Buffer.allocUnsafe(64 * 1024);

/**
 * One phase: ingest on `ingestNode`, listeners on `listenNode`; `nodes` = [A, B] (servers from
 * startEarshot), `nats` = { pid }. Resolves with the phase's row of the report.
 */
export async function throughputPhase({
  label,
  ingestNode,
  listenNode,
  nodes,
  nats,
  calls,
  listeners,
  windowS,
}) {
  const connect = (port) => (path) => connectRaw({ host: '127.0.0.1', port, path, readBuffer });
  const listening = valuesOrThrow(
    await mapLimit(
      Array.from({ length: listeners }, (_, i) => calls[i % calls.length].listenPath),
      64,
      connect(listenNode.port),
    ),
  );
  const ingests = valuesOrThrow(
    await mapLimit(
      calls.flatMap((call) => ['caller', 'agent'].map((p) => participantPath(call, p, 'pcm16', 16000))),
      16,
      connect(ingestNode.port),
    ),
  );
  let frame = 0;
  const pacer = new Pacer({ periodMs: 20 }, () => {
    const i = frame++;
    // Both participants speak in turns (a 1 kHz tone), so the mix always has content.
    for (const [k, s] of ingests.entries())
      s.socket.write((i >> 5) % 2 === k % 2 ? TONE_FRAME : SILENCE_FRAME);
  });
  pacer.start();
  const sockets = [...listening, ...ingests];
  const pong = setInterval(() => {
    for (const s of sockets) s.socket.write(PONG);
  }, 10_000);
  await sleep(2000); // warm up
  const received = () => listening.reduce((sum, l) => sum + l.bytes, 0);
  const cpu = cpuWindow([...nodes.map((n) => n.pid), nats.pid]);
  const m0 = await Promise.all(nodes.map((n) => scrape(n.base)));
  const bytes0 = received();
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const wallS = (performance.now() - t0) / 1000;
  const bytes1 = received();
  const [cpuA, cpuB, cpuNats] = cpu().processes;
  const m1 = await Promise.all(nodes.map((n) => scrape(n.base)));
  pacer.stop();
  clearInterval(pong);
  for (const s of sockets) s.socket.destroy();
  await sleep(500);
  const delta = (i, name) => sumOf(m1[i], name) - sumOf(m0[i], name);
  return {
    label,
    serverOut: delta(1, 'earshot_frames_out_total') / wallS,
    openListeners: sumOf(m1[1], 'earshot_listeners'),
    delivered: (bytes1 - bytes0) / LISTEN_MESSAGE_BYTES / wallS,
    expected: listeners * 50,
    drops: nodes.map((_, i) => delta(i, 'earshot_frames_dropped_total')),
    cpuA,
    cpuB,
    cpuNats,
    rssB: rssBytes(nodes[1].pid) / 2 ** 20,
  };
}
