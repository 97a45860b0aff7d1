import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { AppError } from '../domain/app-error.js';
import { CloseCode } from '../domain/error-code.js';
import { clientAddressOf } from '../edge/client-address.js';
import {
  countedAsWebSocket,
  httpConnectionsExceeded,
  isOverConnectionLimit,
} from '../edge/connection-guard.js';
import { toAppError } from '../edge/to-app-error.js';
import { MAX_GENERIC_INGEST_MESSAGE_BYTES } from '../ingest/generic-audio-message.js';
import type { Handshake } from '../ingest/platform-stream.js';
import { platformAtPath, WEBSOCKET_PLATFORMS } from '../ingest/platforms.js';
import { LISTENER_MAX_PAYLOAD_BYTES } from '../live/listener.js';
import type { Ended } from '../live/media-pool.js';
import type { SocketGrant } from '../live/media-protocol.js';
import { redactUrl } from '../observability/logger.js';
import { closeSockets } from './close-sockets.js';
import { acceptGenericIngest, authorizeIngest } from './generic-ingest-endpoint.js';
import { handshakeProblem, INGEST_PER_MESSAGE_DEFLATE } from './handshake.js';
import { checkStreamUpgrade } from './ingest-credentials.js';
import { Keepalive } from './keepalive.js';
import { acceptListener, authorizeListener } from './listen-endpoint.js';
import { localControlPlane } from './local-control-plane.js';
import type { MediaDeps } from './media-deps.js';
import { acceptPlatformStream } from './platform-endpoint.js';
import { checkParticipants, type Release } from './quotas.js';
import { rejectUpgrade } from './reject-upgrade.js';
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
  const ingestOptions = { ...options, perMessageDeflate: { ...INGEST_PER_MESSAGE_DEFLATE } };
  const ingestWss = new WebSocketServer({ ...ingestOptions, maxPayload: MAX_GENERIC_INGEST_MESSAGE_BYTES });
  const streamWss = new Map(
    WEBSOCKET_PLATFORMS.map((p) => [
      p.name,
      new WebSocketServer({ ...ingestOptions, maxPayload: p.maxMessageBytes }),
    ]),
  );
  const allWss = [listenWss, ingestWss, ...streamWss.values()];
  // Anything `ws` still finds wrong with a handshake is refused with the envelope too.
  for (const wss of allWss)
    wss.on('wsClientError', (err: Error, socket: Duplex) =>
      rejectUpgrade(
        socket,
        new AppError('VALIDATION_ERROR', `Malformed WebSocket handshake: ${err.message}`),
      ),
    );
  const keepalive = new Keepalive();
  const media: MediaDeps = {
    registry: deps.registry,
    bus: deps.bus,
    metrics: deps.metrics,
    logger: deps.logger,
    control: localControlPlane(deps),
  };
  const clientAddress = clientAddressOf(deps.config.trustProxy);
  let shuttingDown = false;

  /**
   * Every upgrade goes through here. Before anything is looked up: the client address's socket
   * count (QUOTA_EXCEEDED) and its failed authentications (RATE_LIMITED). Then `authorize` checks
   * credentials and the call (an UNAUTHORIZED refusal counts as a failed authentication), `admit`
   * counts the socket against the limits that need the grant, and `complete` opens it. What was
   * counted is released when the socket closes — or, for a socket handed to a media worker, when
   * `complete`'s returned hook says it ended. Any refusal is an HTTP error with the envelope.
   */
  const whenAuthorized = <T>(
    socket: Duplex,
    address: string,
    authorize: () => Promise<T>,
    complete: (grant: T) => Ended | undefined,
    admit?: (grant: T) => Release,
  ) => {
    const check = async (): Promise<T> => {
      deps.quotas.checkAddress(address);
      return deps.authFailures.guard(address, authorize);
    };
    check().then(
      (grant) => {
        if (socket.destroyed) return;
        if (shuttingDown)
          return rejectUpgrade(socket, new AppError('SERVICE_UNAVAILABLE', 'Server shutting down'));
        const releases: Release[] = [];
        const releaseAll = () => {
          for (const release of releases.splice(0)) release();
        };
        let ended: Ended | undefined;
        try {
          releases.push(deps.quotas.admitConnection(address));
          if (admit) releases.push(admit(grant));
          ended = complete(grant);
        } catch (err) {
          releaseAll();
          return refuse(socket, err);
        }
        if (ended) ended(releaseAll);
        else if (socket.destroyed) releaseAll();
        else socket.once('close', releaseAll);
        // A WebSocket now (or handed to a worker): counted by the socket limits, not as plain HTTP.
        countedAsWebSocket(socket as Socket);
      },
      (err) => refuse(socket, err),
    );
  };

  /**
   * Opens an admitted socket as what `grant` says: in this process (`ws` completes the upgrade and
   * the endpoint takes over), or handed to its call's media worker, which does the same there.
   */
  const open = <T>(
    wss: WebSocketServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    address: string,
    authorize: () => Promise<T>,
    toGrant: (grant: T) => SocketGrant,
    admit?: (grant: T) => Release,
  ) =>
    whenAuthorized(
      socket,
      address,
      authorize,
      (checked) => {
        const grant = toGrant(checked);
        if (deps.pool) return deps.pool.adopt(grant, request, socket as Socket, head);
        wss.handleUpgrade(request, socket, head, (ws) => {
          keepalive.watch(ws);
          if (grant.kind === 'listener') acceptListener(media, ws, grant);
          else if (grant.kind === 'ingest') acceptGenericIngest(media, ws, grant);
          else acceptPlatformStream(media, ws, grant, handshakeOf(request));
        });
        return undefined;
      },
      admit,
    );

  const refuse = (socket: Duplex, err: unknown) => {
    const { error, internal } = toAppError(err);
    if (internal) deps.logger.error({ err }, 'websocket upgrade failed');
    rejectUpgrade(socket, error);
  };

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'http://localhost');
    const address = clientAddress(request);
    if (isOverConnectionLimit(socket as Socket))
      return rejectUpgrade(socket, httpConnectionsExceeded(deps.config.httpConnectionsPerAddress));
    const malformed = handshakeProblem(request);
    if (malformed) return rejectUpgrade(socket, malformed);
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
      if (match[1] === 'listen')
        return open(
          listenWss,
          request,
          socket,
          head,
          address,
          () => authorizeListener(deps, callId, url.searchParams),
          (grant) => ({
            kind: 'listener',
            callPk: grant.call.pk,
            format: grant.format,
            tokenHash: grant.tokenHash,
          }),
          (grant) => deps.quotas.admitListener(grant.call.orgId, grant.call.pk),
        );
      return open(
        ingestWss,
        request,
        socket,
        head,
        address,
        async () => {
          const grant = await authorizeIngest(deps, callId, url.searchParams, request);
          await checkParticipants(deps, grant.call.pk, grant.params.participants);
          return grant;
        },
        (grant) => ({ kind: 'ingest', ...grant }),
      );
    }
    const platform = platformAtPath(url.pathname);
    if (platform) {
      const wss = streamWss.get(platform.name) as WebSocketServer;
      const handshake = { query: url.searchParams, headers: request.headers };
      // `?token=` or the platform's own header; without either, the start message must carry it.
      const credential = url.searchParams.get('token') || platform.handshakeCredential?.(handshake) || null;
      const callId = url.searchParams.get('call_id') || null;
      return open(
        wss,
        request,
        socket,
        head,
        address,
        () =>
          checkStreamUpgrade(deps, {
            credential,
            callId,
            signed: platform.signedUpgrade
              ? {
                  method: request.method ?? 'GET',
                  target: request.url ?? '/',
                  authority: request.headers.host ?? '',
                  headers: request.headers,
                }
              : null,
          }),
        () => ({ kind: 'stream', platform: platform.name, address, credential, callId }),
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
        allWss.flatMap((wss) => [...wss.clients]),
        CloseCode.GOING_AWAY,
        'server shutting down',
      );
      await deps.pool?.stop();
    },
  };
}

/** What a platform's parser may read of its upgrade request. */
function handshakeOf(request: IncomingMessage): Handshake {
  return { query: new URL(request.url ?? '/', 'http://localhost').searchParams, headers: request.headers };
}
