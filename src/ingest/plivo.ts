import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import {
  checkStreamId,
  counterField,
  invalidPayload,
  isJsonObject,
  type JsonObject,
  nullableStringField,
  objectField,
  parseEventBytes,
  stringField,
} from './json-field.js';
import { decodeMediaPayload, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import {
  type Handshake,
  MAX_STREAM_PAYLOAD_BYTES,
  type PlatformParser,
  type StreamEvent,
  type StreamStart,
  type WireEncoding,
  type WireFormat,
} from './platform-stream.js';

/**
 * Plivo Audio Streams (the XML `<Stream>` element, or the Stream API) as an ingest adapter (SPEC
 * §4.5, `/ws/plivo`). Plivo connects to the element's URL and sends JSON text messages: `start`
 * (the call, its tracks and format, the element's `extraHeaders`), `media` (base64 raw audio, per
 * track), `dtmf`, and, on bidirectional streams, `playedStream` and `clearedAudio`. Message shapes,
 * sources and the readings chosen: test/fixtures/platforms/plivo/README.md.
 *
 * - The call: `call_id=…` in `extra_headers` when given (explicit), else `start.callId`.
 * - The credential: `token=…` in `extra_headers` (or `?token=` on the URL, read by the endpoint).
 * - Tracks: `inbound` (what Plivo receives from the call: the caller) → `caller`, `outbound` (what
 *   it sends to the call) → `agent`; the stream announces the tracks `start.tracks` lists.
 * - Formats (`contentType`): `audio/x-l16;rate=8000` (Plivo's default), `audio/x-l16;rate=16000`,
 *   `audio/x-mulaw;rate=8000`. Plivo does not say L16's byte order; little-endian is the reading chosen.
 * - The end: Plivo reports it by HTTP status callback, not on the socket, so the socket's close ends
 *   this stream's participants (the endpoint's part). A `stop` message, should one come, does the
 *   same (`end` scope `participants`).
 */

/** Longest accepted text message, in characters (20 ms of 16 kHz L16 is a ~1 Ki message). */
export const PLIVO_MAX_MESSAGE_CHARS = 65_536;

/**
 * Longest `extra_headers` accepted, in characters. Plivo caps the attribute at 512 bytes; this leaves
 * room for senders that are not Plivo while keeping the start message's work bounded.
 */
export const PLIVO_MAX_EXTRA_HEADERS_CHARS = 4096;

/** A parser for one Plivo connection. The handshake carries nothing the parser needs. */
export function createPlivoParser(_handshake?: Handshake): PlatformParser {
  return new PlivoParser();
}

const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const TRACK_PARTICIPANT = Object.freeze({ inbound: 'caller', outbound: 'agent' } as const);
type PlivoTrack = keyof typeof TRACK_PARTICIPANT;
const MAX_REPORTED_EVENT_CHARS = 32;

function ignored(what: string): readonly StreamEvent[] {
  return Object.freeze([Object.freeze({ type: 'ignored', what })]);
}
const IGNORED_DTMF = ignored('dtmf');
const IGNORED_PLAYED = ignored('playedStream');
const IGNORED_CLEARED = ignored('clearedAudio');
const IGNORED_STOP_BEFORE_START = ignored('stop before start');
const END_PARTICIPANTS: readonly StreamEvent[] = Object.freeze([
  Object.freeze({ type: 'end', scope: 'participants' }),
]);
/** A later message's `streamId` that is not the start's (absent is fine: Plivo's own examples omit it on some events). */
const STREAM_ID_MISMATCH = 'streamId does not match start.streamId';

interface Encoding {
  readonly encoding: WireEncoding;
  readonly bytesPerSample: number;
  readonly ratesHz: readonly number[];
  readonly rateRule: string;
}

/** Plivo's `contentType`s, by media type. */
const ENCODINGS: ReadonlyMap<string, Encoding> = new Map([
  [
    'audio/x-mulaw',
    {
      encoding: 'mulaw',
      bytesPerSample: 1,
      ratesHz: [8000],
      rateRule: 'start.mediaFormat.sampleRate must be 8000 for audio/x-mulaw',
    },
  ],
  [
    'audio/x-l16',
    {
      // Plivo's documentation is silent on byte order; little-endian is what its L16 carries in
      // every integration found (see the fixture README), and the order of the platforms' PCM streams.
      encoding: 'pcm16',
      bytesPerSample: 2,
      ratesHz: [8000, 16000],
      rateRule: 'start.mediaFormat.sampleRate must be 8000 or 16000 for audio/x-l16',
    },
  ],
]);

const State = { AWAITING_START: 0, STREAMING: 1, STOPPED: 2 } as const;
type State = (typeof State)[keyof typeof State];

class PlivoParser implements PlatformParser {
  #state: State = State.AWAITING_START;
  #streamId: string | null = null;
  /** Participant of each announced track; an unannounced track is refused. */
  #inbound: string | null = null;
  #outbound: string | null = null;
  /** Set by `start`, with the format: 1 s of audio, whole samples. */
  #payloadRule: MediaPayloadRule | null = null;
  /** Set once an error was returned: the connection is over, and any further call says so again. */
  #failed: readonly StreamEvent[] | null = null;

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    try {
      if (isBinary) throw new AppError('UNSUPPORTED_DATA', 'Plivo audio stream messages must be text (JSON)');
      const { message, event } = parseEventBytes(data, PLIVO_MAX_MESSAGE_CHARS);
      // Most frequent first: media is 50 messages/s per track.
      switch (event) {
        case 'media':
          return this.#media(message);
        case 'start':
          return this.#start(message);
        case 'dtmf':
          return IGNORED_DTMF;
        case 'playedStream':
        case 'played': // the name Plivo's support article gives the same checkpoint echo
          return IGNORED_PLAYED;
        case 'clearedAudio':
          return IGNORED_CLEARED;
        case 'stop':
          return this.#stop(message);
        default:
          return [{ type: 'ignored', what: event.slice(0, MAX_REPORTED_EVENT_CHARS) }];
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err; // a bug here, not bad content
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err })]);
      return this.#failed;
    }
  }

  /** Plivo's audio arrives in order (one TCP stream, no reordering documented): nothing is ever held. */
  flush(): readonly StreamEvent[] {
    return NOTHING;
  }

  #media(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.STREAMING) {
      throw invalidPayload(this.#state === State.STOPPED ? 'media after stop' : 'media before start');
    }
    checkStreamId(message['streamId'], this.#streamId, STREAM_ID_MISMATCH);
    const media = objectField(message, 'media', 'media');
    const track = media['track'];
    let participant: string | null;
    if (track === 'inbound') participant = this.#inbound;
    else if (track === 'outbound') participant = this.#outbound;
    else throw invalidPayload('media.track must be inbound or outbound');
    if (participant === null) throw invalidPayload('media.track is not one of start.tracks');
    // Validated when present, not needed: Plivo sends each track in order.
    if (media['chunk'] !== undefined) counterField(media, 'chunk', 'media.chunk');
    if (media['timestamp'] !== undefined) counterField(media, 'timestamp', 'media.timestamp');
    const payload = decodeMediaPayload(stringField(media, 'payload', 'media.payload'), this.#payloadRule!);
    // Not frozen, unlike the rare events: freezing costs time on the path taken 100 times/s per call.
    return [{ type: 'audio', participant, payload }];
  }

  #start(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.AWAITING_START) {
      throw invalidPayload(this.#state === State.STREAMING ? 'start received twice' : 'start after stop');
    }
    const start = objectField(message, 'start', 'start');
    const platformCallId = stringField(start, 'callId', 'start.callId');
    if (!isValidCallId(platformCallId)) throw invalidPayload(`start.callId must be ${CALL_ID_RULE}`);
    const streamId = nullableStringField(start, 'streamId', 'start.streamId');
    nullableStringField(start, 'accountId', 'start.accountId');
    const tracks = parseTracks(start['tracks']);
    const { encoding, rateHz } = mediaFormat(objectField(start, 'mediaFormat', 'start.mediaFormat'));
    const { callId, token } = extraHeaders(message['extra_headers']);

    // Everything is valid: only now change state (a rejected message leaves the parser as it was).
    const format: WireFormat = Object.freeze({ encoding: encoding.encoding, sampleRateHz: rateHz });
    this.#payloadRule = mediaPayloadRule({
      field: 'media.payload',
      maxBytes: Math.min(rateHz * encoding.bytesPerSample, MAX_STREAM_PAYLOAD_BYTES),
      bytesPerSample: encoding.bytesPerSample,
    });
    this.#streamId = streamId;
    this.#inbound = tracks.includes('inbound') ? TRACK_PARTICIPANT.inbound : null;
    this.#outbound = tracks.includes('outbound') ? TRACK_PARTICIPANT.outbound : null;
    this.#state = State.STREAMING;
    const event: StreamStart = Object.freeze({
      type: 'start',
      callId,
      platformCallId,
      credential: token,
      participants: Object.freeze(tracks.map((t) => TRACK_PARTICIPANT[t])),
      interleaved: false,
      format,
      // Plivo's start message carries no numbers (they come with its HTTP callbacks).
      from: null,
      to: null,
    });
    return Object.freeze([event]);
  }

  /** Not in Plivo's protocol (the end comes by HTTP callback); accepted in case a sender has one. */
  #stop(message: JsonObject): readonly StreamEvent[] {
    if (this.#state === State.STOPPED) throw invalidPayload('stop received twice');
    if (this.#state === State.AWAITING_START) {
      this.#state = State.STOPPED;
      return IGNORED_STOP_BEFORE_START;
    }
    checkStreamId(message['streamId'], this.#streamId, STREAM_ID_MISMATCH);
    this.#state = State.STOPPED;
    return END_PARTICIPANTS;
  }
}

function parseTracks(value: unknown): PlivoTrack[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidPayload('start.tracks must be a non-empty array of inbound/outbound');
  }
  const tracks: PlivoTrack[] = [];
  for (const track of value) {
    if (track !== 'inbound' && track !== 'outbound') {
      throw invalidPayload('start.tracks must contain only inbound and outbound');
    }
    if (!tracks.includes(track)) tracks.push(track);
  }
  return tracks;
}

/**
 * The format of `start.mediaFormat`: `encoding` is the media type of the element's `contentType`
 * (`audio/x-l16`, `audio/x-mulaw`), `sampleRate` its rate. A `;rate=` parameter left on the media
 * type is accepted when it agrees with `sampleRate`.
 */
function mediaFormat(format: JsonObject): { encoding: Encoding; rateHz: number } {
  const text = stringField(format, 'encoding', 'start.mediaFormat.encoding').toLowerCase();
  const semicolon = text.indexOf(';');
  const mediaType = (semicolon < 0 ? text : text.slice(0, semicolon)).trim();
  const encoding = ENCODINGS.get(mediaType);
  if (encoding === undefined) {
    throw new AppError(
      'UNSUPPORTED_DATA',
      'start.mediaFormat.encoding is not supported: use audio/x-l16 or audio/x-mulaw',
    );
  }
  const rateHz = counterField(format, 'sampleRate', 'start.mediaFormat.sampleRate');
  if (!encoding.ratesHz.includes(rateHz)) throw invalidPayload(encoding.rateRule);
  if (semicolon >= 0) {
    const parameter = text.slice(semicolon + 1).trim();
    if (parameter !== '' && parameter !== `rate=${rateHz}`) {
      throw invalidPayload('start.mediaFormat.encoding disagrees with start.mediaFormat.sampleRate');
    }
  }
  return { encoding, rateHz };
}

/**
 * `call_id` and `token` from the element's `extraHeaders`, which Plivo delivers in `extra_headers`
 * as one string of `key=value` pairs. Its XML reference separates them with commas
 * (`test1=12,test2=123`), its protocol reference with semicolons (`userId=12345;sessionId=abc-xyz`):
 * both are read. An object of strings is read too. Plivo allows only letters and digits in the
 * attribute, so keys are matched ignoring case, `_` and `-` (`call_id`, `callId`, `callid`); the
 * first of a repeated key counts. Pairs without `=` are skipped.
 */
function extraHeaders(value: unknown): { callId: string | null; token: string | null } {
  let callId: string | null = null;
  let token: string | null = null;
  const take = (rawKey: string, rawValue: string): void => {
    const key = normalizeKey(rawKey);
    const text = rawValue.trim();
    if (text === '') return;
    if (key === 'token') token ??= text;
    else if (key === 'callid') callId ??= text;
  };
  if (value === undefined || value === null) return { callId, token };
  if (typeof value === 'string') {
    if (value.length > PLIVO_MAX_EXTRA_HEADERS_CHARS) {
      throw invalidPayload(`extra_headers exceeds ${PLIVO_MAX_EXTRA_HEADERS_CHARS} characters`);
    }
    for (const pair of value.split(/[,;]/)) {
      const equals = pair.indexOf('=');
      if (equals > 0) take(pair.slice(0, equals), pair.slice(equals + 1));
    }
  } else if (isJsonObject(value)) {
    for (const [key, entry] of Object.entries(value)) {
      if (typeof entry === 'string' && entry.length <= PLIVO_MAX_EXTRA_HEADERS_CHARS) take(key, entry);
    }
  } else {
    throw invalidPayload('extra_headers must be a string');
  }
  if (callId !== null && !isValidCallId(callId)) {
    throw invalidPayload(`extra_headers call_id must be ${CALL_ID_RULE}`);
  }
  return { callId, token };
}

function normalizeKey(key: string): string {
  return key.trim().toLowerCase().replaceAll('_', '').replaceAll('-', '');
}
