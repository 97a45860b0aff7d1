// A bystander call, run in a worker thread so that the test's own load cannot delay it: it feeds a
// tone into the call's ingest socket in real time and listens to the call, recording when each
// listener message arrives. On 'stop' it reports the gaps between messages.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';

const { ingestUrl, listenUrl, gapMs } = workerData;
const chunk = Buffer.alloc(640);
for (let i = 0; i < 320; i++)
  chunk.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)), i * 2);

const ingest = new WebSocket(`${ingestUrl}&participant=bystander&encoding=pcm16&sample_rate=16000`);
ingest.on('error', () => {});
let sent = 0;
let start = 0;
let pacer = null;
const pace = () => {
  while (ingest.readyState === WebSocket.OPEN && performance.now() >= start + sent * 20) {
    ingest.send(chunk);
    sent++;
  }
  pacer = setTimeout(pace, 5);
};
ingest.once('open', () => {
  start = performance.now();
  pace();
});

const arrivals = [];
let closed = null;
const listener = new WebSocket(listenUrl);
listener.on('error', (err) => parentPort.postMessage({ t: 'error', message: err.message }));
listener.on('message', (_data, isBinary) => {
  if (isBinary) arrivals.push(performance.now());
});
listener.once('open', () => parentPort.postMessage({ t: 'open' }));
listener.on('close', (code) => (closed = code));

parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(pacer);
  let maxGap = 0;
  const gaps = [];
  for (let i = 1; i < arrivals.length; i++) {
    const gap = arrivals[i] - arrivals[i - 1];
    if (gap > maxGap) maxGap = gap;
    if (gap > gapMs) gaps.push(Math.round(gap));
  }
  ingest.close();
  listener.close();
  parentPort.postMessage({
    t: 'report',
    messages: arrivals.length,
    maxGapMs: Math.round(maxGap),
    gaps,
    closed,
  });
});
