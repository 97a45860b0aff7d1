import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import {
  checkStreamId,
  counterField,
  invalidPayload,
  isJsonObject,
  type JsonObject,
  nullableString,
  objectField,
  parseEventBytes,
  stringField,
} from './json-field.js';
import { decodeMediaPayload, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import type { Handshake, PlatformParser, StreamEvent, StreamStart, WireFormat } from './platform-stream.js';
import { decodeStrictBase64 } from './strict-base64.js';

/**
 * Exotel AgentStream (the Stream and Voicebot applets, `/ws/exotel`, SPEC §4.5) as an ingest
 * adapter. Exotel speaks Twilio's protocol with snake_case fields: `connected`, `start`, `media`,
 * `dtmf`, `mark`, `stop` (and `clear`, which only the server sends) as JSON text messages whose
 * audio is base64 inside `media.payload`. test/fixtures/platforms/exotel/README.md shows every
 * message and says which of Exotel's disagreeing guides each rule follows.
 *
 * - The call is `start.custom_parameters.call_id` when given (explicit), else `start.call_sid`.
 *   The credential is `start.custom_parameters.token`; custom parameters are the query of the
 *   applet's URL, which the endpoint also reads as `?token=` / `?call_id=`.
 * - The format: Exotel's guides disagree (16-bit little-endian PCM in the applet guide and the
 *   protocol page; μ-law by default in the Beta extension guide), so `start.media_format` decides
 *   when present, by the encoding names Exotel writes (`audio/x-raw`, `raw`, `linear16`,
 *   `audio/L16;rate=16000`, `audio/x-mulaw;rate=8000`, …). The name that live streams carry,
 *   `base64`, names the transport, not the codec: `bit_rate` (`128kbps` at 8 kHz is 16 bits a
 *   sample) settles it, and PCM is the default. The rate is `media_format.sample_rate`, else the
 *   encoding's `;rate=`, else the URL's `?sample-rate=` (8000, 16000 or 24000), else 8000.
 * - Tracks: the documented stream is one mono track without a `track` field, the caller's side
 *   (`caller`). The Beta guide's both-track mode marks messages `inbound`/`outbound`; `outbound`
 *   feeds `agent` only where `start.tracks` announced it (a start message must name every
 *   participant, and that mode's start announces none), and is otherwise `ignored`.
 * - `stop` completes the call (`end` scope `call`).
 */

/**
 * Longest accepted text message, in characters: 1 s of 24 kHz PCM is 64 000 base64 characters,
 * and a start message with three custom parameters is well under 1 KiB.
 */
export const EXOTEL_MAX_MESSAGE_CHARS = 65_536;

/** The largest WebSocket message Exotel may send, in bytes (the server's `maxPayload`): JSON of up to 4 UTF-8 bytes a character. */
export const EXOTEL_MAX_MESSAGE_BYTES = EXOTEL_MAX_MESSAGE_CHARS * 4;

/** The rates Exotel streams at (`?sample-rate=`); Exotel's default is 8000. */
export const EXOTEL_SAMPLE_RATES: readonly number[] = Object.freeze([8000, 16000, 24000]);
const DEFAULT_SAMPLE_RATE_HZ = 8000;
const SAMPLE_RATES_TEXT = '8000, 16000 or 24000';

/** Longest audio one `media` message may carry. Exotel sends 20–100 ms. */
const MAX_MEDIA_MS = 1000;
const MAX_REPORTED_CHARS = 32;

/** How Exotel names its encodings in `start.media_format.encoding`, lower-cased, without parameters. */
type EncodingKind = 'pcm16' | 'mulaw' | 'transport';
const ENCODING_NAMES: ReadonlyMap<string, EncodingKind> = new Map<string, EncodingKind>([
  // Names the transport (base64 in JSON), not the codec; live streams carry it (README).
  ['base64', 'transport'],
  // 16-bit linear PCM, little-endian: Exotel's "raw/slin" in every guide. Exotel writes `L16`
  // for it too, which RFC 3551 defines as big-endian; Exotel documents little-endian throughout.
  ['raw', 'pcm16'],
  ['audio/x-raw', 'pcm16'],
  ['audio/raw', 'pcm16'],
  ['slin', 'pcm16'],
  ['linear16', 'pcm16'],
  ['pcm', 'pcm16'],
  ['pcm16', 'pcm16'],
  ['audio/pcm', 'pcm16'],
  ['l16', 'pcm16'],
  ['audio/l16', 'pcm16'],
  ['audio/x-l16', 'pcm16'],
  // G.711 μ-law: the Beta guide's default (`audio/x-mulaw;rate=8000`).
  ['audio/x-mulaw', 'mulaw'],
  ['audio/mulaw', 'mulaw'],
  ['audio/pcmu', 'mulaw'],
  ['mulaw', 'mulaw'],
  ['ulaw', 'mulaw'],
  ['pcmu', 'mulaw'],
]);

const State = Object.freeze({
  AWAITING_START: 0,
  STREAMING: 1,
  STOPPED: 2,
} as const);
type State = (typeof State)[keyof typeof State];

const CALLER = 'caller';
const AGENT = 'agent';
const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const END_CALL: readonly StreamEvent[] = Object.freeze([
  Object.freeze({ type: 'end', scope: 'call' } as const),
]);
const EMPTY: JsonObject = Object.freeze({});
/** A later message's `stream_sid` that is not the start's (absent is fine: Exotel-compatible senders omit it). */
const STREAM_SID_MISMATCH = 'stream_sid does not match the one in start';

/** A parser for one Exotel AgentStream connection (see the module comment). */
export function createExotelParser(handshake: Handshake): PlatformParser {
  return new ExotelParser(handshake);
}

/**
 * The credential in the upgrade's `Authorization: Basic …` header, for the endpoint to check before
 * the upgrade: Exotel's applet offers Basic auth (`wss://<user>:<password>@host/ws/exotel`, sent as
 * `Authorization: Basic base64(user:password)`), and its Beta guide warns against secrets in custom
 * parameters, which travel in plain text. The password is the credential (an ingest key or a call's ingest
 * token); the user name is free. Null when there is no such header or it carries no password.
 */
export function exotelHandshakeCredential(handshake: Handshake): string | null {
  const header = handshake.headers['authorization'];
  const raw = Array.isArray(header) ? header[0] : header;
  if (typeof raw !== 'string') return null;
  const basic = /^\s*basic\s+(\S+)\s*$/i.exec(raw);
  if (basic === null) return null;
  const decoded = decodeStrictBase64(basic[1]);
  if (decoded === undefined) return null;
  const pair = decoded.toString('utf8');
  const colon = pair.indexOf(':');
  const password = colon < 0 ? '' : pair.slice(colon + 1);
  return password === '' ? null : password;
}

class ExotelParser implements PlatformParser {
  /** The URL's `?sample-rate=`: a rate, none, or the error it is (reported at the first message). */
  readonly #urlRate: number | AppError | null;
  #state: State = State.AWAITING_START;
  /** Set once an error was returned: every later call returns it again. */
  #failed: readonly StreamEvent[] | null = null;
  #streamSid: string | null = null;
  /** Custom parameters a `connected` message carried (the Beta guide's reading); `start`'s win. */
  #connectedParameters: JsonObject = EMPTY;
  #callerDeclared = true;
  #agentDeclared = false;
  /** Set by `start`, with the format: 1 s of audio, whole samples. */
  #payloadRule: MediaPayloadRule | null = null;

  constructor(handshake: Handshake) {
    this.#urlRate = urlSampleRate(handshake.query);
  }

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    try {
      if (this.#urlRate instanceof AppError) throw this.#urlRate;
      if (isBinary) throw new AppError('UNSUPPORTED_DATA', 'Exotel messages must be text (JSON)');
      return this.#message(data);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err } as const)]);
      return this.#failed;
    }
  }

  /** Exotel holds nothing back: its messages arrive in order on one socket. */
  flush(): readonly StreamEvent[] {
    return NOTHING;
  }

  #message(data: Buffer): readonly StreamEvent[] {
    // Bounded before decoding: no character takes more than 4 UTF-8 bytes (EXOTEL_MAX_MESSAGE_BYTES).
    const { message, event } = parseEventBytes(data, EXOTEL_MAX_MESSAGE_CHARS);
    // Most frequent first: media is 10–50 messages a second.
    switch (event) {
      case 'media':
        return this.#media(message);
      case 'start':
        return this.#start(message);
      case 'stop':
        return this.#stop(message);
      case 'connected': {
        const parameters = message['custom_parameters'];
        if (isJsonObject(parameters)) this.#connectedParameters = parameters;
        return ignored(event);
      }
      default:
        // dtmf, mark, clear, and whatever Exotel adds later: well-formed and of no use here.
        return ignored(event);
    }
  }

  #media(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.STREAMING) {
      throw invalidPayload(this.#state === State.STOPPED ? 'media after stop' : 'media before start');
    }
    checkStreamId(either(message, 'stream_sid', 'streamSid'), this.#streamSid, STREAM_SID_MISMATCH);
    const media = objectField(message, 'media', 'media');
    const track = media['track'];
    let participant: string;
    let declared: boolean;
    if (track === undefined || track === 'inbound') {
      participant = CALLER;
      declared = this.#callerDeclared;
    } else if (track === 'outbound') {
      participant = AGENT;
      declared = this.#agentDeclared;
    } else {
      throw invalidPayload('media.track must be inbound or outbound');
    }
    const payload = decodeMediaPayload(stringField(media, 'payload', 'media.payload'), this.#payloadRule!);
    // Not needed (one socket keeps them in order) but checked where present: garbage is refused.
    if (media['chunk'] !== undefined) counterField(media, 'chunk', 'media.chunk');
    if (media['timestamp'] !== undefined) counterField(media, 'timestamp', 'media.timestamp');
    if (!declared) return ignored(participant === AGENT ? 'media outbound' : 'media inbound');
    // Not frozen, unlike the rare events: freezing costs time on the path taken 50 times a second.
    return [{ type: 'audio', participant, payload }];
  }

  #start(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.AWAITING_START) {
      throw invalidPayload(this.#state === State.STREAMING ? 'start received twice' : 'start after stop');
    }
    const start = objectField(message, 'start', 'start');
    // Exotel writes snake_case; its reference repo warns that names "vary slightly by applet", and
    // some paths write Twilio's camelCase: both are read in the start message (nowhere hot).
    const innerSid = nullableString(either(start, 'stream_sid', 'streamSid'), 'start.stream_sid');
    const outerSid = nullableString(either(message, 'stream_sid', 'streamSid'), 'stream_sid');
    if (innerSid !== null && outerSid !== null && innerSid !== outerSid) {
      throw invalidPayload('stream_sid does not match start.stream_sid');
    }
    const callSid = nullableString(either(start, 'call_sid', 'callSid'), 'start.call_sid');
    if (callSid === null) throw invalidPayload('start.call_sid is required');
    if (!isValidCallId(callSid)) throw invalidPayload(`start.call_sid must be ${CALL_ID_RULE}`);

    const parameters = customParameters(either(start, 'custom_parameters', 'customParameters'));
    const callId = parameter(parameters, this.#connectedParameters, 'call_id');
    if (callId !== null && !isValidCallId(callId)) {
      throw invalidPayload(`start.custom_parameters.call_id must be ${CALL_ID_RULE}`);
    }
    const credential = parameter(parameters, this.#connectedParameters, 'token');
    if (credential === '') throw invalidPayload('start.custom_parameters.token must not be empty');

    const format = mediaFormat(
      either(start, 'media_format', 'mediaFormat'),
      typeof this.#urlRate === 'number' ? this.#urlRate : DEFAULT_SAMPLE_RATE_HZ,
    );
    const tracks = declaredTracks(start['tracks']);
    const from = nullableString(start['from'], 'start.from');
    const to = nullableString(start['to'], 'start.to');

    const participants: string[] = [];
    if (tracks.inbound) participants.push(CALLER);
    if (tracks.outbound) participants.push(AGENT);
    const event: StreamStart = Object.freeze({
      type: 'start',
      callId,
      platformCallId: callSid,
      credential,
      participants: Object.freeze(participants),
      interleaved: false,
      format,
      from: from === '' ? null : from,
      to: to === '' ? null : to,
    });
    this.#streamSid = innerSid ?? outerSid;
    this.#callerDeclared = tracks.inbound;
    this.#agentDeclared = tracks.outbound;
    const bytesPerSample = format.encoding === 'mulaw' ? 1 : 2;
    this.#payloadRule = mediaPayloadRule({
      field: 'media.payload',
      maxBytes: (format.sampleRateHz * MAX_MEDIA_MS * bytesPerSample) / 1000,
      bytesPerSample,
      tooBig: `media.payload exceeds ${MAX_MEDIA_MS} ms of audio`,
      partialSample: 'media.payload must be whole 16-bit samples',
    });
    this.#state = State.STREAMING;
    return Object.freeze([event]);
  }

  #stop(message: JsonObject): readonly StreamEvent[] {
    if (this.#state === State.STOPPED) throw invalidPayload('stop received twice');
    // Lenient on purpose, like Twilio's: losing a stop leaves the call active until the idle
    // timeout, so any shape is accepted as long as what is present has the documented types.
    const stop = message['stop'];
    if (stop !== undefined && stop !== null && !isJsonObject(stop))
      throw invalidPayload('stop must be an object');
    if (this.#state === State.AWAITING_START) {
      // Nothing was started, so there is nothing to end; what follows can only be refused.
      this.#state = State.STOPPED;
      return ignored('stop before start');
    }
    checkStreamId(either(message, 'stream_sid', 'streamSid'), this.#streamSid, STREAM_SID_MISMATCH);
    this.#state = State.STOPPED;
    return END_CALL;
  }
}

function ignored(what: string): readonly StreamEvent[] {
  return Object.freeze([
    Object.freeze({ type: 'ignored', what: what.slice(0, MAX_REPORTED_CHARS) } as const),
  ]);
}

/** `obj[a]`, or `obj[b]` when `a` is absent. */
function either(obj: JsonObject, a: string, b: string): unknown {
  const value = obj[a];
  return value === undefined ? obj[b] : value;
}

function customParameters(value: unknown): JsonObject {
  if (value === undefined || value === null) return EMPTY;
  if (isJsonObject(value)) return value;
  throw invalidPayload('start.custom_parameters must be an object');
}

/** A custom parameter from `start` (or, failing that, from `connected`), or null. */
function parameter(
  fromStart: JsonObject,
  fromConnected: JsonObject,
  name: 'call_id' | 'token',
): string | null {
  const value = Object.hasOwn(fromStart, name) ? fromStart[name] : fromConnected[name];
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw invalidPayload(`start.custom_parameters.${name} must be a string`);
}

/** Which tracks `start.tracks` announces (Twilio's shape); absent, the documented single caller track. */
function declaredTracks(value: unknown): { inbound: boolean; outbound: boolean } {
  if (value === undefined || value === null) return { inbound: true, outbound: false };
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidPayload('start.tracks must be a non-empty array of inbound/outbound');
  }
  let inbound = false;
  let outbound = false;
  for (const track of value) {
    if (track === 'inbound') inbound = true;
    else if (track === 'outbound') outbound = true;
    else if (track === 'both') inbound = outbound = true;
    else throw invalidPayload('start.tracks must contain only inbound, outbound or both');
  }
  return { inbound, outbound };
}

/**
 * The wire format `start.media_format` declares (see the module comment), or 16-bit PCM at
 * `fallbackRateHz` when there is none.
 */
function mediaFormat(value: unknown, fallbackRateHz: number): WireFormat {
  if (value === undefined || value === null) {
    return Object.freeze({ encoding: 'pcm16', sampleRateHz: fallbackRateHz });
  }
  if (!isJsonObject(value)) throw invalidPayload('start.media_format must be an object');
  const encoding = value['encoding'];
  let kind: EncodingKind = 'transport';
  let encodingRateHz: number | null = null;
  if (encoding !== undefined && encoding !== null) {
    if (typeof encoding !== 'string') throw invalidPayload('start.media_format.encoding must be a string');
    const [name, ...parameters] = encoding.split(';');
    const key = name.trim().toLowerCase();
    const known = ENCODING_NAMES.get(key);
    if (known === undefined) {
      throw new AppError(
        'UNSUPPORTED_DATA',
        `start.media_format.encoding ${nameForMessage(key)} is not supported (16-bit PCM or mu-law)`,
      );
    }
    kind = known;
    encodingRateHz = rateParameter(parameters);
  }
  const fieldRateHz = sampleRateField(either(value, 'sample_rate', 'sampleRate'));
  if (fieldRateHz !== null && encodingRateHz !== null && fieldRateHz !== encodingRateHz) {
    throw invalidPayload('start.media_format.sample_rate and the encoding rate disagree');
  }
  const sampleRateHz = supportedRate(fieldRateHz ?? encodingRateHz ?? fallbackRateHz);
  if (kind === 'transport') {
    kind = bitsPerSample(either(value, 'bit_rate', 'bitRate'), sampleRateHz) === 8 ? 'mulaw' : 'pcm16';
  }
  return Object.freeze({ encoding: kind, sampleRateHz });
}

/** `rate=N` among an encoding's parameters (`audio/L16;rate=16000`), or null. */
function rateParameter(parameters: readonly string[]): number | null {
  for (const parameter of parameters) {
    const [key, value] = parameter.split('=');
    if (key.trim().toLowerCase() !== 'rate') continue;
    const rate = /^\s*(\d{1,6})\s*$/.exec(value ?? '');
    if (rate === null) throw invalidPayload('start.media_format.encoding has a malformed rate');
    return Number(rate[1]);
  }
  return null;
}

/** `sample_rate` as Exotel writes it: `"8000"` or `8000` (its own bridge also strips an `Hz`). */
function sampleRateField(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string') {
    const rate = /^\s*(\d{1,6})\s*(?:hz)?\s*$/i.exec(value);
    if (rate !== null) return Number(rate[1]);
  }
  throw invalidPayload('start.media_format.sample_rate must be a whole number of Hz');
}

function supportedRate(rateHz: number): number {
  if (EXOTEL_SAMPLE_RATES.includes(rateHz)) return rateHz;
  // The rate is a checked integer (≤ 6 digits): safe to name.
  throw new AppError('UNSUPPORTED_DATA', `sample rate ${rateHz} Hz is not supported (${SAMPLE_RATES_TEXT})`);
}

/**
 * Bits per sample from `bit_rate` — `"128kbps"` (8 kHz × 16), `"64kbps"`, `"16"`, `16`, `"128"` —
 * or null when it says nothing usable (it is informational: never a reason to refuse a stream).
 */
function bitsPerSample(value: unknown, sampleRateHz: number): number | null {
  let amount: number;
  let unit = '';
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) {
    amount = value;
  } else if (typeof value === 'string') {
    const parts = /^\s*(\d{1,7})\s*(kbps|bps|k)?\s*$/i.exec(value);
    if (parts === null) return null;
    amount = Number(parts[1]);
    unit = (parts[2] ?? '').toLowerCase();
  } else {
    return null;
  }
  let bits: number;
  if (unit === 'bps') bits = amount / sampleRateHz;
  else if (unit === '' && (amount === 8 || amount === 16)) bits = amount;
  else bits = (amount * 1000) / sampleRateHz;
  return bits === 8 || bits === 16 ? bits : null;
}

/** The URL's `?sample-rate=` (Exotel's name; its developer guide also writes `sample_rate`). */
function urlSampleRate(query: URLSearchParams): number | AppError | null {
  const value = query.get('sample-rate') ?? query.get('sample_rate');
  if (value === null) return null;
  if (!/^\d{1,6}$/.test(value)) {
    return new AppError('INVALID_PAYLOAD', `?sample-rate must be ${SAMPLE_RATES_TEXT}`);
  }
  const rate = Number(value);
  if (EXOTEL_SAMPLE_RATES.includes(rate)) return rate;
  return new AppError('UNSUPPORTED_DATA', `sample rate ${rate} Hz is not supported (${SAMPLE_RATES_TEXT})`);
}

/** A client-sent name fit to quote in an error (a short token of safe characters), or a neutral word. */
function nameForMessage(name: string): string {
  return /^[a-z0-9._/+-]{1,32}$/.test(name) ? `'${name}'` : '(unrecognised)';
}
