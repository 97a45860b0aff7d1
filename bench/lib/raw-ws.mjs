/**
 * The cheapest WebSocket clients a load generator can run: a hand-written client handshake on a
 * plain TCP socket, then no frame parsing at all. Listeners count received bytes into one shared
 * read buffer (no allocation per read); ingest sockets write pre-framed, pre-masked messages.
 */
import net from 'node:net';

// Any 16 bytes, base64: the server only checks the form of the key.
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** A masked (key 0) empty pong. Unsolicited pongs are allowed (RFC 6455 §5.5.3) and keep the server's keepalive happy without parsing its pings. */
export const PONG = Buffer.from([0x8a, 0x80, 0, 0, 0, 0]);

/** One client frame (FIN, binary) with mask key 0, so the payload bytes go out unchanged. */
export function clientBinaryFrame(payload) {
  const n = payload.length;
  const header = n < 126 ? 6 : 8;
  const frame = Buffer.alloc(header + n);
  frame[0] = 0x82;
  if (n < 126) frame[1] = 0x80 | n;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  }
  // The 4 mask bytes stay 0.
  payload.copy(frame, header);
  return frame;
}

/** One server frame (FIN, binary, unmasked): header and payload in one Buffer. */
export function serverBinaryFrame(payload) {
  const n = payload.length;
  const header = n < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(header + n);
  frame[0] = 0x82;
  if (n < 126) frame[1] = n;
  else {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  }
  payload.copy(frame, header);
  return frame;
}

/**
 * Opens a TCP connection to host:port, upgrades `path` to a WebSocket and resolves with a
 * connection record once the server answered 101; rejects on any other answer or error.
 * `record.bytes` counts every byte received after the handshake. `readBuffer` is shared.
 */
export function connectRaw({ host, port, path, readBuffer, pauseAfterRead = false, timeoutMs = 15_000 }) {
  return new Promise((resolve, reject) => {
    const conn = {
      socket: null,
      bytes: 0,
      upgraded: false,
      closed: false,
      expectedClose: false,
      paused: false,
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
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('error', (err) => fail(err));
    socket.once('close', () => {
      conn.closed = true;
      if (!conn.upgraded) reject(new Error('closed during handshake'));
    });
  });
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
