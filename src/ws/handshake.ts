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

/**
 * permessage-deflate as ingest sockets negotiate it (SPEC §4.6: FreeSWITCH's mod_audio_stream
 * offers it by default): accepted when the client offers it, never on listener sockets (audio
 * does not compress, and each listener would cost a compressor). Inflated messages are held to the
 * endpoint's `maxPayload` like any other, so a small compressed frame cannot expand without bound.
 */
export const INGEST_PER_MESSAGE_DEFLATE = Object.freeze({
  // Replies (AudioHook's) are small: sent as they are.
  threshold: 4096,
  // Each context keeps a 32 KiB window per socket; one per message frees it at once.
  serverNoContextTakeover: true,
});
