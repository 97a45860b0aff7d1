import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { AUDIOSOCKET_UUID_TIMEOUT_MS } from '../ingest/audiosocket.js';
import type { IngestSocket } from './close-sockets.js';
import type { MediaDeps } from './media-deps.js';
import { acceptPlatformStream } from './platform-endpoint.js';
import type { SocketQuotas } from './quotas.js';

/** The UUID frame: a 3-byte header and 16 bytes. Asterisk sends it first, as soon as it connects. */
const UUID_FRAME_BYTES = 19;

/**
 * Asterisk AudioSocket (SPEC §4.6), off unless `EARSHOT_AUDIOSOCKET_LISTEN` is set: a TCP server
 * whose connections are platform streams like any other — the `audiosocket` parser
 * (src/ingest/audiosocket.ts) over the byte stream, the UUID naming the call in the organization of
 * `EARSHOT_AUDIOSOCKET_INGEST_KEY` (created there if absent), one endpoint for every platform
 * (platform-endpoint.ts). AudioSocket has no credentials of its own: bind it to a private address.
 * A connection that has not sent its UUID frame within AUDIOSOCKET_UUID_TIMEOUT_MS is closed; bad
 * input closes that connection only (TCP has no close code: it is counted and the socket ended).
 *
 * Its connections stay in this process, also with media workers: their frames reach the call's
 * worker through the bus, as between nodes.
 */
export async function startAudioSocketServer(options: {
  readonly listen: { readonly host: string; readonly port: number };
  readonly ingestKey: string;
  readonly media: MediaDeps;
  readonly quotas: SocketQuotas;
  readonly logger: Logger;
}): Promise<{ readonly host: string; readonly port: number; close(): Promise<void> }> {
  const { media, quotas, ingestKey } = options;
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const address = socket.remoteAddress ?? '';
    let release: () => void;
    try {
      release = quotas.admitConnection(address);
    } catch {
      socket.destroy();
      return;
    }
    open.add(socket);
    let received = 0;
    const silent = setTimeout(() => {
      if (received < UUID_FRAME_BYTES) socket.destroy();
    }, AUDIOSOCKET_UUID_TIMEOUT_MS);
    silent.unref();
    const countUntilUuid = (chunk: Buffer) => {
      received += chunk.length;
      if (received >= UUID_FRAME_BYTES) socket.off('data', countUntilUuid);
    };
    socket.on('data', countUntilUuid);
    socket.once('close', () => {
      clearTimeout(silent);
      open.delete(socket);
      release();
    });
    const stream = new TcpStream(socket);
    acceptPlatformStream(
      media,
      stream,
      {
        platform: 'audiosocket',
        address,
        credential: ingestKey,
        callId: null,
      },
      { query: new URLSearchParams(), headers: {} },
    );
  });
  server.on('error', (err) => options.logger.error({ err }, 'AudioSocket server error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listen.port, options.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound !== null ? bound.port : options.listen.port;
  options.logger.info({ host: options.listen.host, port }, 'AudioSocket served');
  return {
    host: options.listen.host,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}

/**
 * A TCP connection as the platform endpoint sees a WebSocket: each chunk read is a binary
 * `message`; closing ends the connection (TCP carries no close code or reason).
 */
class TcpStream extends EventEmitter implements IngestSocket {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readyState = 1;
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.emit('message', chunk, true));
    socket.once('close', () => {
      this.readyState = this.CLOSED;
      this.emit('close', 1006, Buffer.alloc(0));
    });
  }

  /** AudioSocket is one-way here: earshot sends nothing back. */
  send(): void {}

  close(): void {
    if (this.readyState !== this.OPEN) return;
    this.readyState = this.CLOSING;
    this.#socket.end();
  }

  terminate(): void {
    this.#socket.destroy();
  }
}
