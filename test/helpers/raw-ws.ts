import { randomBytes } from 'node:crypto';
import net from 'node:net';

/**
 * A hand-made WebSocket client for hostile tests: it completes the handshake itself, then sends
 * whatever bytes the test builds (any opcode, RSV bits, masking, lengths, fragmentation) and reads
 * the server's frames far enough to find its close code.
 */
export interface RawFrame {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  /** Masked unless false (clients must mask: RFC 6455 §5.1). */
  mask?: boolean;
  payload?: Buffer;
  /** Claims this payload length in the header whatever `payload` holds (a lie the server must survive). */
  declaredLength?: number | bigint;
}

export function rawFrame({
  fin = true,
  rsv = 0,
  opcode,
  mask = true,
  payload = Buffer.alloc(0),
  declaredLength,
}: RawFrame): Buffer {
  const length = declaredLength ?? payload.length;
  const n = BigInt(length);
  const parts: Buffer[] = [];
  const head = Buffer.alloc(2);
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  const maskBit = mask ? 0x80 : 0;
  let ext: Buffer = Buffer.alloc(0);
  if (n < 126n) head[1] = maskBit | Number(n);
  else if (n < 65536n) {
    head[1] = maskBit | 126;
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(n));
  } else {
    head[1] = maskBit | 127;
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(n);
  }
  parts.push(head, ext);
  if (mask) {
    const key = randomBytes(4);
    const body = Buffer.from(payload);
    for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
    parts.push(key, body);
  } else parts.push(payload);
  return Buffer.concat(parts);
}

/** A close frame's payload: code (big-endian) and reason bytes. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const r = typeof reason === 'string' ? Buffer.from(reason) : reason;
  const out = Buffer.alloc(2 + r.length);
  out.writeUInt16BE(code);
  r.copy(out, 2);
  return out;
}

export interface RawConnection {
  readonly socket: net.Socket;
  /** The close code the server sent (null: the connection ended without a close frame). */
  readonly closed: Promise<number | null>;
  /** Binary data messages received before the close. */
  readonly messages: () => number;
  send(bytes: Buffer): void;
}

/** Opens a WebSocket to a `ws://` URL by hand; rejects unless the server answers 101. */
export function connectRawWs(url: string, options: { localAddress?: string } = {}): Promise<RawConnection> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect({
      host: target.hostname,
      port: Number(target.port),
      localAddress: options.localAddress,
    });
    let buffered = Buffer.alloc(0);
    let upgraded = false;
    let messages = 0;
    let closeCode: number | null = null;
    let settleClosed: (code: number | null) => void = () => {};
    const closed = new Promise<number | null>((r) => (settleClosed = r));
    socket.on('error', (err) => {
      if (!upgraded) reject(err);
    });
    socket.on('close', () => settleClosed(closeCode));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!upgraded) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 4);
        if (!head.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        }
        upgraded = true;
        resolve({ socket, closed, messages: () => messages, send: (b) => socket.write(b) });
      }
      // Server frames: unmasked, lengths up to 64 bits (only small ones expected here).
      while (buffered.length >= 2) {
        const opcode = buffered[0] & 0x0f;
        let len = buffered[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buffered.length < 4) return;
          len = buffered.readUInt16BE(2);
          at = 4;
        } else if (len === 127) {
          if (buffered.length < 10) return;
          len = Number(buffered.readBigUInt64BE(2));
          at = 10;
        }
        if (buffered.length < at + len) return;
        const payload = buffered.subarray(at, at + len);
        if (opcode === 0x8 && closeCode === null) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
          // Answer the close, as a client should, and end.
          if (socket.writable) socket.end(rawFrame({ opcode: 0x8, payload: payload.subarray(0, 2) }));
        } else if (opcode === 0x2) messages++;
        buffered = buffered.subarray(at + len);
      }
    });
    socket.write(
      `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    );
  });
}
