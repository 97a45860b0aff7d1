import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppError } from '../domain/app-error.js';
import { failure } from '../edge/envelope.js';

/** Refuses a WebSocket upgrade with a plain HTTP error carrying the JSON envelope; no socket opens. */
export function rejectUpgrade(socket: Duplex, error: AppError): void {
  if (socket.destroyed) return;
  const body = JSON.stringify(failure(error.code, error.message));
  const headers = [
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(error.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}
