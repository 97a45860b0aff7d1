import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { AppError } from '../domain/app-error.js';
import { CloseCode } from '../domain/error-code.js';
import { toAppError } from '../http/to-app-error.js';
import { MAX_GENERIC_INGEST_MESSAGE_BYTES } from '../ingest/generic-audio-message.js';
import { TWILIO_MAX_MESSAGE_CHARS } from '../ingest/twilio-media-stream.js';
import { LISTENER_MAX_PAYLOAD_BYTES } from '../live/listener.js';
import { redactUrl } from '../observability/logger.js';
import { closeSockets } from './close-sockets.js';
import { acceptGenericIngest, authorizeIngest } from './generic-ingest-endpoint.js';
import { Keepalive } from './keepalive.js';
import { acceptListener, adoptListener, authorizeListener } from './listen-endpoint.js';
import { rejectUpgrade } from './reject-upgrade.js';
import { acceptTwilio } from './twilio-endpoint.js';
import type { WsDeps } from './ws-deps.js';

export interface WebSockets {
  /** Closes every socket with 1001 and stops the keepalive (server shutdown). */
  shutdown(): Promise<void>;
}

/**
 * Routes HTTP upgrades of the Fastify server to the three socket endpoints. Each endpoint's checks
 * run before the upgrade, so a refusal is an HTTP error with the JSON envelope. `ws` is used with
 * permessage-deflate off (audio does not compress, and deflate costs CPU per listener) and an
 * explicit `maxPayload` per endpoint.
 */
export function attachWebSockets(server: import('node:http').Server, deps: WsDeps): WebSockets {
  const options = { noServer: true, perMessageDeflate: false, clientTracking: true } as const;
  const listenWss = new WebSocketServer({ ...options, maxPayload: LISTENER_MAX_PAYLOAD_BYTES });
  const ingestWss = new WebSocketServer({ ...options, maxPayload: MAX_GENERIC_INGEST_MESSAGE_BYTES });
  const twilioWss = new WebSocketServer({ ...options, maxPayload: TWILIO_MAX_MESSAGE_CHARS * 4 });
  const keepalive = new Keepalive();
  let shuttingDown = false;

  /** Runs `complete` once `authorize` grants the upgrade and the server still accepts; else refuses. */
  const whenAuthorized = <T>(socket: Duplex, authorize: () => Promise<T>, complete: (grant: T) => void) => {
    authorize().then(
      (grant) => {
        if (socket.destroyed) return;
        if (shuttingDown)
          return rejectUpgrade(socket, new AppError('SERVICE_UNAVAILABLE', 'Server shutting down'));
        complete(grant);
      },
      (err) => refuse(socket, err),
    );
  };

  const upgrade = <T>(
    wss: WebSocketServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    authorize: () => Promise<T>,
    accept: (ws: import('ws').WebSocket, grant: T) => void,
  ) =>
    whenAuthorized(socket, authorize, (grant) =>
      wss.handleUpgrade(request, socket, head, (ws) => {
        keepalive.watch(ws);
        accept(ws, grant);
      }),
    );

  const refuse = (socket: Duplex, err: unknown) => {
    const { error, internal } = toAppError(err);
    if (internal) deps.logger.error({ err }, 'websocket upgrade failed');
    rejectUpgrade(socket, error);
  };

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://localhost');
    deps.logger.debug({ url: redactUrl(request.url ?? '') }, 'websocket upgrade');
    const match = /^\/ws\/(listen|ingest)\/([^/]*)\/?$/.exec(url.pathname);
    if (match) {
      let callId: string;
      try {
        callId = decodeURIComponent(match[2]);
      } catch {
        return rejectUpgrade(socket, new AppError('CALL_NOT_FOUND'));
      }
      if (callId.trim() === '') return rejectUpgrade(socket, new AppError('MISSING_CALL_ID'));
      if (match[1] === 'listen') {
        const authorize = () => authorizeListener(deps, callId, url.searchParams);
        const fanout = deps.fanout;
        // With fan-out workers, a worker completes the upgrade of the checked socket.
        if (fanout)
          return whenAuthorized(socket, authorize, (grant) =>
            adoptListener(deps, fanout, request, socket as import('node:net').Socket, head, grant),
          );
        return upgrade(listenWss, request, socket, head, authorize, (ws, grant) =>
          acceptListener(deps, ws, request, grant),
        );
      }
      return upgrade(
        ingestWss,
        request,
        socket,
        head,
        () => authorizeIngest(deps, callId, url.searchParams, request),
        (ws, grant) => acceptGenericIngest(deps, ws, grant),
      );
    }
    if (url.pathname === '/ws/twilio' || url.pathname === '/ws/twilio/') {
      return upgrade(
        twilioWss,
        request,
        socket,
        head,
        async () => null,
        (ws) => acceptTwilio(deps, ws),
      );
    }
    rejectUpgrade(socket, new AppError('NOT_FOUND', 'No WebSocket endpoint at this path'));
  });

  return {
    async shutdown() {
      shuttingDown = true;
      keepalive.stop();
      deps.registry.closeAll(CloseCode.GOING_AWAY, 'server shutting down');
      await closeSockets(
        [...listenWss.clients, ...ingestWss.clients, ...twilioWss.clients],
        CloseCode.GOING_AWAY,
        'server shutting down',
      );
      await deps.fanout?.stop();
    },
  };
}
