// Sends batches of WebSocket messages in real time from a worker thread of its own, so that the
// work of the server running in the test's own thread (ticks, HTTP, garbage collection) does not
// delay them. Batch i goes out at start + i × intervalMs (deadline-paced: a late batch is sent at
// once, and the ones after it keep their deadlines). Commands: { t: 'send', batches, intervalMs },
// answered { t: 'progress', sent } as batches go out and { t: 'sent' } after the last; { t: 'close' },
// answered { t: 'closed' }. What the server sends back is reported: { t: 'text', text } for each
// text message (a protocol's replies) and { t: 'server-close', code, reason } when the socket closes.
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';

const ws = new WebSocket(workerData.url, workerData.protocols ?? [], { headers: workerData.headers ?? {} });
ws.on('error', (err) => parentPort.postMessage({ t: 'error', message: err.message }));
ws.once('open', () =>
  parentPort.postMessage({ t: 'open', protocol: ws.protocol, extensions: ws.extensions }),
);
ws.on('message', (data, isBinary) => {
  if (!isBinary) parentPort.postMessage({ t: 'text', text: data.toString() });
});
ws.once('close', (code, reason) =>
  parentPort.postMessage({ t: 'server-close', code, reason: reason.toString() }),
);

parentPort.on('message', (m) => {
  if (m.t === 'close') {
    if (ws.readyState === WebSocket.CLOSED) parentPort.postMessage({ t: 'closed' });
    else {
      ws.once('close', () => parentPort.postMessage({ t: 'closed' }));
      ws.close();
    }
    return;
  }
  if (m.t !== 'send') return;
  const { batches, intervalMs } = m;
  const start = performance.now();
  let next = 0;
  const pace = () => {
    while (next < batches.length && performance.now() >= start + next * intervalMs) {
      if (ws.readyState !== WebSocket.OPEN) {
        next = batches.length;
        break;
      }
      for (const message of batches[next]) ws.send(message);
      next++;
      parentPort.postMessage({ t: 'progress', sent: next });
    }
    if (next < batches.length) setTimeout(pace, Math.max(0, start + next * intervalMs - performance.now()));
    else parentPort.postMessage({ t: 'sent' });
  };
  pace();
});
