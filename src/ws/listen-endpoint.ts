import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { CloseCode } from '../domain/error-code.js';
import { Listener } from '../live/listener.js';
import { type ListenerFormat, messagePayloadBytes, parseListenerFormat } from '../live/listener-options.js';
import { frameHeaderBytes } from '../live/ws-frame.js';
import type { WsDeps } from './ws-deps.js';

/** Backlog a listener may build before its messages are dropped (SPEC §3: ~200 ms). */
const MAX_BACKLOG_MS = 200;
/** Continuous backlog after which it is closed with 1008 (SPEC §3: 5 s). */
const EVICT_AFTER_MS = 5000;

export interface ListenGrant {
  readonly call: Call;
  readonly format: ListenerFormat;
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
  const token = query.get('token');
  const grant = token ? await deps.store.resolveListenToken(token) : undefined;
  if (!grant || grant.revoked || Date.parse(grant.expiresAt) <= Date.now()) {
    throw new AppError('UNAUTHORIZED', 'Listen token is unknown, revoked or expired');
  }
  const call = await deps.store.getCallByPk(grant.callPk);
  if (!call) throw new AppError('CALL_NOT_FOUND');
  if (call.callId !== callId) throw new AppError('UNAUTHORIZED', 'Listen token is not valid for this call');
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  return { call, format };
}

export function acceptListener(
  deps: WsDeps,
  ws: WebSocket,
  _request: IncomingMessage,
  grant: ListenGrant,
): void {
  const { format, call } = grant;
  const messageBytes = frameHeaderBytes(messagePayloadBytes(format)) + messagePayloadBytes(format);
  const listener = new Listener(ws, format, {
    maxBacklogBytes: messageBytes * Math.ceil(MAX_BACKLOG_MS / format.frameMs),
    evictAfterMs: EVICT_AFTER_MS,
  });
  // Listeners have nothing to say; what they send is ignored rather than buffered.
  ws.on('message', () => {});
  deps.registry.addListener(call.pk, listener);
  // The call may have ended between the check and the registration, before this node subscribed
  // to its events: look once more so that such a listener does not wait forever.
  deps.store.getCallByPk(call.pk).then(
    (now) => {
      if (now?.status !== 'active') listener.close(CloseCode.NORMAL, 'call ended');
    },
    () => {},
  );
}
