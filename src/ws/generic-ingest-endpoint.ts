import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { CloseCode } from '../domain/error-code.js';
import { credentialFrom } from '../edge/credentials.js';
import { validateGenericAudioMessage } from '../ingest/generic-audio-message.js';
import { parseGenericControlMessage } from '../ingest/generic-control-message.js';
import { parseGenericIngestParams } from '../ingest/generic-ingest-params.js';
import { IngestDecoder } from '../live/ingest-decoder.js';
import type { SocketGrant } from '../live/media-protocol.js';
import { IngestSession } from './ingest-session.js';
import type { MediaDeps } from './media-deps.js';
import type { WsDeps } from './ws-deps.js';

/** What an admitted generic ingest socket carries (the worker opens it with this). */
export type IngestGrant = Omit<Extract<SocketGrant, { kind: 'ingest' }>, 'kind'>;

/**
 * GET /ws/ingest/{call_id}: parameters, credentials (the call's ingest token, or an API key of its
 * organization) and the call's status are checked before the upgrade.
 */
export async function authorizeIngest(
  deps: WsDeps,
  callId: string,
  query: URLSearchParams,
  request: IncomingMessage,
): Promise<IngestGrant> {
  const params = parseGenericIngestParams(query);
  const { call, apiKeyPrefix } = await resolveIngestCredential(
    deps,
    callId,
    query.get('token'),
    request.headers.authorization,
  );
  if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
  return { call, params, apiKeyPrefix };
}

/**
 * The call an ingest connection may feed, by ingest token or by API key of the call's org, with the
 * prefix of the API key that authenticated it (null for an ingest token).
 */
export async function resolveIngestCredential(
  deps: WsDeps,
  callId: string,
  token: string | null,
  authorization: string | undefined,
): Promise<{ call: Call; apiKeyPrefix: string | null }> {
  if (token) {
    const callPk = await deps.store.resolveIngestToken(token);
    const call = callPk === undefined ? undefined : await deps.store.getCallByPk(callPk);
    if (!call || call.callId !== callId)
      throw new AppError('UNAUTHORIZED', 'Ingest token is not valid for this call');
    return { call, apiKeyPrefix: null };
  }
  const key = credentialFrom(authorization);
  const found = key === null ? undefined : await deps.store.findApiKey(key);
  if (!found) throw new AppError('UNAUTHORIZED', 'An ingest token or API key is required');
  const call = await deps.store.getCall(found.org.id, callId);
  if (!call) throw new AppError('CALL_NOT_FOUND');
  return { call, apiKeyPrefix: found.prefix };
}

export function acceptGenericIngest(deps: MediaDeps, ws: WebSocket, grant: IngestGrant): void {
  const { params } = grant;
  const session = new IngestSession(deps, ws, grant.call, grant.apiKeyPrefix);
  const tracks = session.addTracks(params.participants, params);
  const decoder = new IngestDecoder(params.encoding, params.channels);
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (session.closed) return;
    try {
      if (isBinary) {
        const bytes = data as Buffer;
        validateGenericAudioMessage(bytes, params);
        const channels = decoder.decode(bytes);
        for (let i = 0; i < tracks.length; i++) tracks[i].write(channels[i]);
      } else {
        const control = parseGenericControlMessage((data as Buffer).toString('utf8'));
        if (control.type === 'stop') {
          session.endTracks();
          session.close(CloseCode.NORMAL, 'stopped');
        }
      }
    } catch (err) {
      session.fail(err);
    }
  });
  ws.on('error', (err) => session.fail(wsError(err)));
}

/** Errors `ws` raises while reading a frame (oversized, invalid UTF-8, …) as AppErrors. */
export function wsError(err: Error & { code?: string }): AppError {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return new AppError('MESSAGE_TOO_BIG');
  if (err.code === 'WS_ERR_INVALID_UTF8')
    return new AppError('INVALID_PAYLOAD', 'Text message is not valid UTF-8');
  return new AppError('INVALID_PAYLOAD', 'Malformed WebSocket frame');
}
