import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { CloseCode } from '../domain/error-code.js';
import type { FanoutPool } from '../live/fanout-pool.js';
import { Listener, type ListenerSink, listenerPolicy } from '../live/listener.js';
import { type ListenerFormat, parseListenerFormat } from '../live/listener-options.js';
import { hashSecret } from '../store/secrets.js';
import { guardListenerSocket } from './socket-guard.js';
import type { WsDeps } from './ws-deps.js';

export interface ListenGrant {
  readonly call: Call;
  readonly format: ListenerFormat;
  /** Hash of the listen token it connected with (to find it again if the token is revoked). */
  readonly tokenHash: string;
}

/**
 * GET /ws/listen/{call_id}?token=…: everything is checked before the upgrade, so a refused listener
 * gets an HTTP error with the envelope and never a WebSocket.
 */
export async function authorizeListener(
  deps: WsDeps,
  callId: string,
  query: URLSearchParams,
): Promise<ListenGrant> {
  const format = parseListenerFormat(query);
  const token = query.get('token') ?? '';
  const grant = token ? await deps.store.resolveListenToken(token) : undefined;
  if (!grant || grant.revoked || Date.parse(grant.expiresAt) <= Date.now()) {
    throw new AppError('UNAUTHORIZED', 'Listen token is unknown, revoked or expired');
  }
  const call = await deps.store.getCallByPk(grant.callPk);
  if (!call) throw new AppError('CALL_NOT_FOUND');
  if (call.callId !== callId) throw new AppError('UNAUTHORIZED', 'Listen token is not valid for this call');
  // Turning live listen off revokes the org's tokens; refusing here too covers a token minted
  // while it was being turned off.
  const org = await deps.store.getOrg(call.orgId);
  if (!org?.liveListenEnabled) {
    throw new AppError('UNAUTHORIZED', 'Listen token is unknown, revoked or expired');
  }
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  return { call, format, tokenHash: hashSecret(token) };
}

export function acceptListener(
  deps: WsDeps,
  ws: WebSocket,
  _request: IncomingMessage,
  grant: ListenGrant,
): void {
  const { format } = grant;
  const listener = new Listener(ws, format, listenerPolicy(format), grant.tokenHash);
  guardListenerSocket(ws, (reason) => deps.metrics.socketErrors.inc({ socket: 'listener', reason }));
  register(deps, grant, listener);
}

/** The same, for a listener whose socket goes to a fan-out worker (which completes the upgrade). */
export function adoptListener(
  deps: WsDeps,
  fanout: FanoutPool,
  request: IncomingMessage,
  socket: Socket,
  head: Buffer,
  grant: ListenGrant,
): ListenerSink {
  return register(deps, grant, fanout.adopt(request, socket, head, { ...grant, callPk: grant.call.pk }));
}

/** Adds a listener to its call's room, and makes sure it does not outlive a call that just ended. */
function register(deps: WsDeps, grant: ListenGrant, listener: ListenerSink): ListenerSink {
  const { call } = grant;
  deps.registry.addListener(call.pk, listener);
  // The call may have ended between the check and the registration, before this node subscribed
  // to its events: look once more so that such a listener does not wait forever.
  deps.store.getCallByPk(call.pk).then(
    (now) => {
      if (now?.status !== 'active') listener.close(CloseCode.NORMAL, 'call ended');
    },
    () => {},
  );
  return listener;
}
