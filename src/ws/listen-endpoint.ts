import type { WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { CloseCode } from '../domain/error-code.js';
import { Listener, listenerPolicy } from '../live/listener.js';
import { type ListenerFormat, parseListenerFormat } from '../live/listener-options.js';
import { hashSecret } from '../store/secrets.js';
import type { MediaDeps } from './media-deps.js';
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

/** Opens an admitted listener: its socket guard, the call's room, and a last look at the call. */
export function acceptListener(
  deps: MediaDeps,
  ws: WebSocket,
  grant: Pick<ListenGrant, 'format' | 'tokenHash'> & { readonly callPk: string },
): void {
  const { format, callPk } = grant;
  const listener = new Listener(ws, format, listenerPolicy(format), grant.tokenHash);
  guardListenerSocket(ws, (reason) => deps.metrics.socketErrors.inc({ socket: 'listener', reason }));
  deps.registry.addListener(callPk, listener);
  // The call may have ended, or the URL been revoked, between the check and the registration,
  // before this process subscribed to the call's events: look once more, now that it has.
  deps.control.listenerStatus(callPk, grant.tokenHash).then(
    (status) => {
      if (status === 'ended') listener.close(CloseCode.NORMAL, 'call ended');
      else if (status === 'revoked') listener.close(CloseCode.REVOKED, 'revoked');
    },
    () => {},
  );
}
