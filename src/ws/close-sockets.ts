import type { RawData, WebSocket } from 'ws';

/**
 * What the ingest endpoints use of a socket: a `ws` WebSocket has all of it, and so has the TCP
 * adapter of Asterisk AudioSocket (audiosocket-server.ts), whose chunks are binary messages and
 * whose close carries no code.
 */
export interface IngestSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly CLOSING: number;
  readonly CLOSED: number;
  send(text: string): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** How long peers get to answer the close handshake when a process shuts down. */
const CLOSE_GRACE_MS = 2000;

/**
 * Closes every socket with `code`/`reason`, gives the peers a moment to answer the close
 * handshake, then cuts whatever is left (server shutdown, in the main process and in fan-out
 * workers alike).
 */
export async function closeSockets(
  sockets: Iterable<WebSocket>,
  code: number,
  reason: string,
): Promise<void> {
  const all = [...sockets];
  for (const ws of all) ws.close(code, reason);
  const deadline = Date.now() + CLOSE_GRACE_MS;
  while (all.some((ws) => ws.readyState !== ws.CLOSED) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const ws of all) ws.terminate();
}

/**
 * Closes one socket with a code and reason, and cuts it after `graceMs` if the peer does not answer
 * the close handshake. Does nothing to a socket already closing or closed (idempotent).
 */
export function closeSocket(ws: IngestSocket, code: number, reason: string, graceMs = 1000): void {
  if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
  ws.close(code, reason);
  const cut = setTimeout(() => ws.terminate(), graceMs);
  cut.unref();
  ws.once('close', () => clearTimeout(cut));
}
