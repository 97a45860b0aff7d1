import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../domain/app-error.js';
import type { Metrics } from '../observability/metrics.js';
import { addressKey } from './client-address.js';

/** How long a connection over the limit may take to send its request before it is cut. */
const OVER_LIMIT_GRACE_MS = 2000;

const overLimit = new WeakSet<Socket>();
/** Each counted socket's way out of its server's count. */
const releases = new WeakMap<Socket, () => void>();

/**
 * Bounds the plain HTTP connections (not yet, or never, upgraded to WebSockets) one peer address may
 * hold on the server at once: a client opening thousands of idle or slow connections costs the
 * process a bounded amount. A connection past the bound is answered with its first request —
 * 429 `QUOTA_EXCEEDED` and `Connection: close` (see `isOverConnectionLimit`) — or cut after
 * OVER_LIMIT_GRACE_MS if it sends none. A socket that becomes a WebSocket leaves this count
 * (`countedAsWebSocket`) and is counted by the socket limits instead (ws/quotas.ts). Behind a
 * trusted proxy every connection comes from the proxy, so the caller does not apply the bound there.
 */
export function guardConnections(server: Server, limit: number, metrics: Metrics): void {
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const key = addressKey(socket.remoteAddress ?? '');
    const n = (perAddress.get(key) ?? 0) + 1;
    perAddress.set(key, n);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left <= 0) perAddress.delete(key);
      else perAddress.set(key, left);
    };
    releases.set(socket, release);
    socket.once('close', release);
    if (n > limit) {
      overLimit.add(socket);
      metrics.quotaRefusals.inc({ limit: 'http_connections_per_address' });
      const cut = setTimeout(() => socket.destroy(), OVER_LIMIT_GRACE_MS);
      cut.unref();
      socket.once('close', () => clearTimeout(cut));
    }
  });
}

/** Whether the connection was accepted past its address's bound (its request gets a 429). */
export function isOverConnectionLimit(socket: Socket): boolean {
  return overLimit.has(socket);
}

/** The socket became a WebSocket: it no longer counts as a plain HTTP connection. */
export function countedAsWebSocket(socket: Socket): void {
  releases.get(socket)?.();
}

/** The refusal of a request on a connection past the bound (EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS). */
export function httpConnectionsExceeded(limit: number): AppError {
  return new AppError(
    'QUOTA_EXCEEDED',
    `Limit of ${limit} HTTP connections per client address reached (EARSHOT_MAX_HTTP_CONNECTIONS_PER_ADDRESS)`,
  );
}
