import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import { CloseCode } from '../domain/error-code.js';
import { credentialFrom } from '../edge/credentials.js';
import { validateGenericAudioMessage } from '../ingest/generic-audio-message.js';
import { parseGenericControlMessage } from '../ingest/generic-control-message.js';
import { parseGenericIngestParams } from '../ingest/generic-ingest-params.js';
import { IngestDecoder } from '../live/ingest-decoder.js';
import type { SocketGrant } from '../live/media-protocol.js';
import { resolveIngestCall } from './ingest-credentials.js';
import { IngestSession } from './ingest-session.js';
import type { MediaDeps } from './media-deps.js';
import type { WsDeps } from './ws-deps.js';

/** What an admitted generic ingest socket carries (the worker opens it with this). */
export type IngestGrant = Omit<Extract<SocketGrant, { kind: 'ingest' }>, 'kind'>;

/**
 * GET /ws/ingest/{call_id}: parameters, credentials (the call's ingest token, an ingest key — which
 * creates the call if need be — or an API key of its organization) and the call's status are
 * checked before the upgrade.
 */
export async function authorizeIngest(
  deps: WsDeps,
  callId: string,
  query: URLSearchParams,
  request: IncomingMessage,
): Promise<IngestGrant> {
  const params = parseGenericIngestParams(query);
  const { call, keyPrefix } = await resolveIngestCall(deps, {
    platform: 'generic',
    callId,
    platformCallId: null,
    credential: query.get('token') || null,
    authorization: credentialFrom(request.headers.authorization),
    from: null,
    to: null,
  });
  return { call, params, apiKeyPrefix: keyPrefix };
}

export function acceptGenericIngest(deps: MediaDeps, ws: WebSocket, grant: IngestGrant): void {
  const { params } = grant;
  const session = new IngestSession(deps, ws, grant.call, {
    platform: 'generic',
    keyPrefix: grant.apiKeyPrefix,
  });
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
