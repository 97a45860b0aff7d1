/**
 * The cheapest WebSocket clients a load generator can run: a hand-written client handshake on a
 * plain TCP socket, then no frame parsing at all. Listeners count received bytes into one shared
 * read buffer (no allocation per read); ingest sockets write pre-framed, pre-masked messages.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';

// Any 16 bytes, base64: the server only checks the form of the key.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** A masked (key 0) empty pong. Unsolicited pongs are allowed (RFC 6455 §5.5.3) and keep the server's keepalive happy without parsing its pings. */
export const PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/**
 * One binary message (FIN) as a frame: header and payload in one Buffer, for payloads under 64 KiB.
 * A masked (client) frame has mask key 0, so the payload bytes go out unchanged.
 */
function binaryFrame(payload, masked) {
  const n = payload.length;
  const lengthBytes = n < 126 ? 0 : 2;
  const header = 2 + lengthBytes + (masked ? 4 : 0);
  const frame = Buffer.allocUnsafe(header + n);
  frame[0] = 0x82;
  frame[1] = (masked ? 0x80 : 0) | (lengthBytes ? 126 : n);
  if (lengthBytes) frame.writeUInt16BE(n, 2);
  frame.fill(0, 2 + lengthBytes, header); // the mask key, if any
  payload.copy(frame, header);
  return frame;
}

/** One client frame (FIN, binary, masked with key 0). */
export const clientBinaryFrame = (payload) => binaryFrame(payload, true);

/** One server frame (FIN, binary, unmasked). */
export const serverBinaryFrame = (payload) => binaryFrame(payload, false);

/**
 * Opens a TCP connection to host:port, upgrades `path` to a WebSocket and resolves with a
 * connection record once the server answered 101; rejects on any other answer or error.
 * `record.bytes` counts every byte received after the handshake. `readBuffer` is shared.
 * `headers`: extra request headers (a platform's credential); `onBytes(record)` runs on every read
 * after the upgrade (a client that answers what it receives).
 */
export function connectRaw({
  host,
  port,
  path,
  readBuffer,
  pauseAfterRead = false,
  timeoutMs = 15_000,
  headers = {},
  onBytes,
}) {
  return new Promise((resolve, reject) => {
    const conn = {
      socket: null,
      bytes: 0,
      upgraded: false,
      closed: false,
      expectedClose: false,
      paused: false,
      /** performance.now() when TCP connected (the upgrade answer comes after). */
      connectedAt: 0,
    };
    let head = '';
    const fail = (err) => {
      if (conn.upgraded) return;
      conn.closed = true;
      socket.destroy();
      reject(err);
    };
    const socket = net.connect({
      host,
      port,
      onread: {
        buffer: readBuffer,
        callback(n, buf) {
          if (conn.upgraded) {
            conn.bytes += n;
            onBytes?.(conn);
            if (pauseAfterRead) {
              conn.paused = true;
              return false;
            }
            return true;
          }
          head += buf.latin1Slice(0, n);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (head.length > 16384) fail(new Error('handshake answer too long'));
            return true;
          }
          if (!head.startsWith('HTTP/1.1 101')) {
            fail(new Error(`upgrade refused: ${head.slice(0, head.indexOf('\r\n'))}`));
            return false;
          }
          clearTimeout(timer);
          conn.upgraded = true;
          conn.bytes += head.length - end - 4;
          head = '';
          resolve(conn);
          if (conn.bytes > 0) onBytes?.(conn);
          return true;
        },
      },
    });
    conn.socket = socket;
    // An overloaded server may take long to answer; give up rather than wait forever.
    const timer = setTimeout(() => fail(new Error(`no upgrade answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => clearTimeout(timer));
    socket.setNoDelay(true);
    socket.once('connect', () => {
      conn.connectedAt = performance.now();
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
      );
    });
    socket.on('error', (err) => fail(err));
    socket.once('close', () => {
      conn.closed = true;
      if (!conn.upgraded) reject(new Error('closed during handshake'));
    });
  });
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The server side of the handshake, by hand (RFC 6455 §4.2.2): answers 101 on `socket` for the
 * upgrade request `req`, or 400 (and ends the socket) when its Sec-WebSocket-Key is not a 16-byte
 * base64 nonce. Returns whether the socket is now a WebSocket. Nothing else of the request is checked.
 */
export function acceptUpgrade(req, socket) {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || !/^[+/0-9A-Za-z]{22}==$/.test(key)) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return false;
  }
  const accept = createHash('sha1')
    .update(key + GUID)
    .digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  socket.setNoDelay(true);
  return true;
}

/** Runs `fn` over `items` with at most `limit` in flight; resolves with the settled results. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { ok: true, value: await fn(items[i], i) };
      } catch (err) {
        results[i] = { ok: false, error: err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The values of mapLimit's results, or the first error thrown. */
export function valuesOrThrow(results) {
  const failed = results.find((r) => !r.ok);
  if (failed) throw failed.error;
  return results.map((r) => r.value);
}
