import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../domain/app-error.js';
import { CloseCode } from '../domain/error-code.js';
import { ingestCredentialFrom } from '../edge/credentials.js';
import { validateGenericAudioMessage } from '../ingest/generic-audio-message.js';
import {
  MAX_GENERIC_CONTROL_MESSAGE_CHARS,
  parseGenericControlMessage,
} from '../ingest/generic-control-message.js';
import { parseGenericIngestParams, withPbxMetadata } from '../ingest/generic-ingest-params.js';
import { isJsonObject } from '../ingest/json-field.js';
import { IngestDecoder } from '../live/ingest-decoder.js';
import type { IngestTrack } from '../live/ingest-track.js';
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
    authorization: ingestCredentialFrom(request.headers.authorization),
    from: null,
    to: null,
  });
  return { call, params, apiKeyPrefix: keyPrefix };
}

/**
 * The generic ingest socket (SPEC §4.1), which PBX media forks use as they are (§4.6). On a PBX's
 * subprotocol the participants join with the first message, not at the upgrade: that message may
 * be metadata that declares the format (jambonz: `sampleRate`, `mixType`), which then wins over
 * the query's.
 */
export function acceptGenericIngest(deps: MediaDeps, ws: WebSocket, grant: IngestGrant): void {
  let { params } = grant;
  const session = new IngestSession(deps, ws, grant.call, {
    platform: 'generic',
    keyPrefix: grant.apiKeyPrefix,
  });
  let tracks: IngestTrack[] = [];
  let decoder: IngestDecoder | null = null;
  const join = () => {
    tracks = session.addTracks(params.participants, params);
    decoder = new IngestDecoder(params.encoding, params.channels);
    return decoder;
  };
  if (!PBX_SUBPROTOCOLS.has(ws.protocol)) join();
  /** Nothing but the first message yet: it may be a PBX's metadata frame. */
  let first = true;
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (session.closed) return;
    const wasFirst = first;
    first = false;
    try {
      if (isBinary) {
        const bytes = data as Buffer;
        validateGenericAudioMessage(bytes, params);
        (decoder ?? join()).feed(bytes, tracks);
      } else {
        const text = (data as Buffer).toString('utf8');
        // FreeSWITCH's mod_audio_fork / mod_audio_stream and jambonz's listen send a metadata text
        // first (SPEC §4.6): accepted as it is — anything on their subprotocols, a JSON object
        // without an `event` otherwise (so that malformed JSON is still refused, SPEC §4.3).
        if (wasFirst && isMetadata(text, ws.protocol)) {
          if (decoder === null) {
            params = withPbxMetadata(params, parsedOrNull(text));
            join();
          }
          return;
        }
        decoder ?? join();
        const control = parseGenericControlMessage(text);
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

/** The WebSocket subprotocols of FreeSWITCH's mod_audio_fork and jambonz's listen verb. */
const PBX_SUBPROTOCOLS: ReadonlySet<string> = new Set(['audio.drachtio.org', 'audio.jambonz.org']);

/** Whether a first text message is a PBX's metadata frame rather than a control message. */
function isMetadata(text: string, subprotocol: string): boolean {
  if (PBX_SUBPROTOCOLS.has(subprotocol)) return !isControlMessage(text);
  if (text.length > MAX_GENERIC_CONTROL_MESSAGE_CHARS * 16) return false;
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) && typeof value['event'] !== 'string';
  } catch {
    return false;
  }
}

function parsedOrNull(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** Whether a text message is a control message of generic ingest (a JSON object with a string `event`). */
function isControlMessage(text: string): boolean {
  try {
    parseGenericControlMessage(text);
    return true;
  } catch {
    return false;
  }
}
