/**
 * The ingest floors (bench/ingest-families.mjs): servers that take the generic family's load — one
 * WebSocket per participant, one binary message per 20 ms — and do nothing with it but count, so
 * that earshot's ingest cost can be read against what merely reading those sockets costs in Node on
 * the same machine, in the same run:
 *
 *  raw  no WebSocket library: a hand-written handshake, then each socket's 'data' walked frame
 *       header by frame header (lengths only: no unmasking, no copy, no message made).
 *  onread  as raw, but each socket read into one preallocated buffer (net.Socket's `onread`), so
 *       that no Buffer is made and no stream event emitted per read. Node offers `onread` only to
 *       sockets it connects, not to those a server accepts: the accepted socket's handle is taken
 *       over by a new net.Socket (`socket._handle`, not a public API) — a floor, not a way to build.
 *  ws   the `ws` library, as earshot uses it (perMessageDeflate off), with a message handler that
 *       counts and returns.
 *
 * They answer GET /metrics in earshot's words — `earshot_frames_in_total` (binary messages: one
 * generic message of the load is one participant-frame), `earshot_participants` (open sockets),
 * `earshot_ingest_errors_total` — so that the bench measures them as it measures a server.
 *
 *   node bench/ingest-floor-server.mjs raw|onread|ws <port>
 */
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { acceptUpgrade } from './lib/raw-ws.mjs';

const [mode, portArg] = process.argv.slice(2);
if (!['raw', 'onread', 'ws'].includes(mode) || !(Number(portArg) > 0))
  throw new Error('usage: ingest-floor-server.mjs raw|onread|ws <port>');

let messages = 0;
let open = 0;
let errors = 0;

const server = http.createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(
    `earshot_frames_in_total ${messages}\nearshot_participants ${open}\nearshot_ingest_errors_total ${errors}\n`,
  );
});

/**
 * `walk(bytes, end)`: walks the client frames of one socket (RFC 6455 §5.2) in bytes[0, end),
 * across reads, counting binary messages; a close frame calls `onClose` (which ends the socket).
 */
function frameWalker(onClose) {
  const head = Buffer.alloc(14);
  let headLength = 0;
  /** Payload bytes of the current frame still to come. */
  let rest = 0;
  return (chunk, end) => {
    let i = 0;
    while (i < end) {
      if (rest > 0) {
        const n = Math.min(rest, end - i);
        rest -= n;
        i += n;
        continue;
      }
      head[headLength++] = chunk[i++];
      if (headLength < 2) continue;
      const len7 = head[1] & 0x7f;
      const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (head[1] & 0x80 ? 4 : 0);
      if (headLength < need) continue;
      rest = len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7;
      const opcode = head[0] & 0x0f;
      headLength = 0;
      if (opcode === 0x2) messages++;
      else if (opcode === 0x8) {
        onClose();
        return;
      }
    }
  };
}

/** The one buffer every `onread` socket reads into. */
const readBuffer = Buffer.alloc(65536);

const wss =
  mode === 'ws'
    ? new WebSocketServer({
        noServer: true,
        perMessageDeflate: false,
        clientTracking: false,
        maxPayload: 65536,
      })
    : null;

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => {
    errors++;
  });
  if (wss) {
    wss.handleUpgrade(req, socket, head, (ws) => {
      open++;
      ws.on('message', (_data, isBinary) => {
        if (isBinary) messages++;
      });
      ws.on('error', () => {
        errors++;
      });
      ws.once('close', () => {
        open--;
      });
    });
    return;
  }
  if (!acceptUpgrade(req, socket)) return;
  open++;
  // onread: the reader below takes the socket's handle over, and is what a close frame ends.
  let reader = null;
  const walk = frameWalker(() => (reader ?? socket).end());
  if (head.length > 0) walk(head, head.length);
  if (mode === 'raw') {
    socket.on('data', (chunk) => walk(chunk, chunk.length));
    socket.once('close', () => {
      open--;
    });
    return;
  }
  const handle = socket._handle;
  socket._handle = null;
  reader = new net.Socket({
    handle,
    onread: {
      buffer: readBuffer,
      callback(n, buffer) {
        walk(buffer, n);
      },
    },
  });
  reader.on('error', () => {
    errors++;
  });
  reader.once('close', () => {
    open--;
  });
});

server.listen(Number(portArg), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
