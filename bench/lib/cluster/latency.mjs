/**
 * The cluster benchmark's latency phase. One call; a participant is ingested on node A in real time
 * (PCM16 16 kHz, 20 ms messages), every 8th message a marker (a 1 kHz burst; the others silence).
 * Two `ws` listeners, one on node A (same node) and one on node B (over NATS), time-stamp the
 * message in which each marker appears; latency = arrival − send of that marker's message, same
 * clock; the NATS hop is the difference between the two listeners, marker by marker.
 */
import { connect as natsConnect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { participantPath } from '../api.mjs';
import { Pacer } from '../pacer.mjs';
import { LISTEN_PAYLOAD_BYTES, pcm16Tone } from '../signals.mjs';

export const MARKER_EVERY = 8;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SILENCE = Buffer.alloc(LISTEN_PAYLOAD_BYTES);
const MARKER = pcm16Tone(1000, 16384);

/** RMS level of a PCM16 LE payload, dBFS. */
function rmsDb(buf) {
  let acc = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) acc += buf.readInt16LE(i) ** 2;
  return 10 * Math.log10((2 * acc) / (buf.length / 2) / 32768 ** 2 + 1e-20);
}

const opened = (ws) =>
  new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });

/** A listener on `node` that records when each marker's burst begins (performance.now()). */
async function onsetListener(node, listenPath) {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}${listenPath}`);
  const onsets = [];
  let wasLoud = false;
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const loud = rmsDb(data) > -30;
    if (loud && !wasLoud) onsets.push(performance.now());
    wasLoud = loud;
  });
  await opened(ws);
  return { ws, onsets };
}

/**
 * `call` was created on node A (createCall); `seconds` of markers over rounds of 3 s. Resolves with
 * sorted latencies (ms): { same, cross, hop, markers (sent) }.
 */
export async function latencyPhase(a, b, call, seconds) {
  // Ingest first, listeners after: each room then starts from a steady flow (a burst at the start
  // would leave a deeper jitter buffer on one node and bias the comparison).
  const ingest = new WebSocket(`ws://127.0.0.1:${a.port}${participantPath(call, 'caller', 'pcm16', 16000)}`);
  await opened(ingest);
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
  let frame = 0;
  const pacer = new Pacer({ periodMs: 20 }, () => {
    if (frame++ % MARKER_EVERY === 0 && measuring) {
      ingest.send(MARKER);
      sent.push(performance.now());
    } else ingest.send(SILENCE);
  });
  pacer.start();
  await sleep(1000);
  // Rounds of fresh listeners: each round creates new rooms (new jitter buffers) on both nodes, so
  // one burst cannot bias a whole run; markers are matched to the round's listeners by time.
  const rounds = Math.max(1, Math.round(seconds / 3));
  const s = new Map();
  const c = new Map();
  measuring = true;
  for (let r = 0; r < rounds; r++) {
    const same = await onsetListener(a, call.listenPath);
    const cross = await onsetListener(b, call.listenPath);
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
  pacer.stop();
  ingest.close();
  const hop = [...c].filter(([k]) => s.has(k)).map(([k, v]) => v - s.get(k));
  const sorted = (values) => [...values].sort((x, y) => x - y);
  return { same: sorted(s.values()), cross: sorted(c.values()), hop: sorted(hop), markers: sent.length };
}

/** The NATS transport alone: one 680-byte frame-sized message, publisher → another connection. */
export async function natsTransport(natsUrl, count) {
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
