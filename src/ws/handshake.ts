import type { IncomingMessage } from 'node:http';
import { AppError } from '../domain/app-error.js';

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * What makes an upgrade request no WebSocket handshake (RFC 6455 §4.2.1), checked before anything
 * is looked up: the refusal is the envelope, where `ws` would answer plain text.
 */
export function handshakeProblem(request: IncomingMessage): AppError | null {
  const bad = (what: string, headers?: Record<string, string>) =>
    new AppError('VALIDATION_ERROR', `Malformed WebSocket handshake: ${what}`, { headers });
  if (request.method !== 'GET') return bad('the method must be GET');
  if (request.headers.upgrade?.toLowerCase() !== 'websocket') return bad('Upgrade must be websocket');
  if (!WEBSOCKET_KEY.test(request.headers['sec-websocket-key'] ?? ''))
    return bad('missing or invalid Sec-WebSocket-Key');
  const version = request.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8')
    return bad('missing or unsupported Sec-WebSocket-Version', { 'Sec-WebSocket-Version': '13, 8' });
  return null;
}
