import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import { invalidPayload, type JsonObject, nullableStringField, parseObjectBytes } from './json-field.js';
import { checkMediaBytes, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import type { Handshake, PlatformParser, StreamEvent, StreamStart } from './platform-stream.js';

/**
 * The Vonage Voice API's WebSocket endpoint (an NCCO `connect` to `{"type":"websocket"}`,
 * `/ws/vonage`, SPEC §4.5) as an ingest adapter. Vonage opens the socket and sends, in order:
 *
 * 1. one text message, `{"event":"websocket:connected","content-type":"audio/l16;rate=16000", …}`,
 *    with the NCCO endpoint's `headers` flattened into it;
 * 2. binary messages of 16-bit linear PCM, little-endian, mono, 20 ms each (320 bytes at 8 kHz,
 *    640 at 16 kHz); any whole number of samples up to 1 s is accepted;
 * 3. text events between them (`websocket:dtmf`, and `websocket:cleared` / `websocket:notify`
 *    answering commands earshot never sends), all `ignored`.
 *
 * Vonage mixes every leg of the call into this one stream, so it feeds one participant, `caller`.
 * There is no stop message: the socket's close ends the participant (the endpoint's business), and
 * {@link PlatformParser.flush} returns nothing. The call is the `call_id` header when given
 * (explicit), else the `uuid` (or `conversation_uuid`) header as the platform's id; the credential
 * is the `token` header, or the upgrade's `Authorization` ({@link vonageHandshakeCredential}).
 * test/fixtures/platforms/vonage/README.md shows every message and the sources each rule follows.
 */

/**
 * Longest accepted text message, in bytes: Vonage caps the NCCO headers at 512 bytes (2000 in
 * newer accounts), so 64 KiB is room for any `websocket:connected` without inviting megabytes.
 */
export const VONAGE_MAX_TEXT_BYTES = 65_536;

/** The rates Vonage's `content-type` may name: 8000 and 16000 everywhere, 24000 in its current guide. */
export const VONAGE_SAMPLE_RATES: readonly number[] = Object.freeze([8000, 16000, 24000]);
const SAMPLE_RATES_TEXT = '8000, 16000 or 24000';

/** Longest audio one binary message may carry. Vonage sends 20 ms. */
const MAX_AUDIO_MS = 1000;

/** The largest WebSocket message Vonage may send, in bytes (the server's `maxPayload`). */
export const VONAGE_MAX_MESSAGE_BYTES = Math.max(
  VONAGE_MAX_TEXT_BYTES,
  (Math.max(...VONAGE_SAMPLE_RATES) * MAX_AUDIO_MS * 2) / 1000,
);

const PARTICIPANT = 'caller';
const PARTICIPANTS: readonly string[] = Object.freeze([PARTICIPANT]);
const CONNECTED = 'websocket:connected';
const MAX_REPORTED_CHARS = 32;
const NOTHING: readonly StreamEvent[] = Object.freeze([]);

/** A parser for one Vonage WebSocket connection (see the module comment). */
export function createVonageParser(_handshake: Handshake): PlatformParser {
  return new VonageParser();
}

/**
 * The credential in the upgrade's `Authorization` header, for the endpoint to check before the
 * upgrade: the NCCO endpoint's `authorization: {"type":"custom","value":"Bearer eik_…"}` (Vonage
 * sends `value` verbatim; a bare token and `Bearer <token>` both work). Null when absent, and null
 * for `authorization: {"type":"vonage"}`, which sends Vonage's own signed JWT (`Bearer eyJ….….…`):
 * earshot cannot verify that, so the `token` header or `?token=` must carry the credential then.
 */
export function vonageHandshakeCredential(handshake: Handshake): string | null {
  const header = handshake.headers['authorization'];
  const raw = Array.isArray(header) ? header[0] : header;
  if (typeof raw !== 'string') return null;
  const value = raw
    .trim()
    // `Bearer` alone (its token empty) is no credential, not the credential "Bearer".
    .replace(/^bearer(?:\s+|$)/i, '')
    .trim();
  if (value === '' || JWT.test(value)) return null;
  return value;
}

/** A JWT's compact form: three base64url parts. No earshot credential contains a dot. */
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

class VonageParser implements PlatformParser {
  #connected = false;
  /** Set once an error was returned: every later call returns it again. */
  #failed: readonly StreamEvent[] | null = null;
  /** Set by websocket:connected, with the rate: 1 s of audio, whole 16-bit samples. */
  #audioRule: MediaPayloadRule | null = null;

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    try {
      return isBinary ? this.#audio(data) : this.#text(data);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err } as const)]);
      return this.#failed;
    }
  }

  /** Nothing is held back, and Vonage has no stop message: the socket's close is the end. */
  flush(): readonly StreamEvent[] {
    return NOTHING;
  }

  #audio(data: Buffer): readonly StreamEvent[] {
    if (!this.#connected) throw invalidPayload('audio before websocket:connected');
    // The bytes are passed on as they came: every bit pattern is a valid sample.
    return [{ type: 'audio', participant: PARTICIPANT, payload: checkMediaBytes(data, this.#audioRule!) }];
  }

  #text(data: Buffer): readonly StreamEvent[] {
    const message = parseObjectBytes(data, VONAGE_MAX_TEXT_BYTES);
    const event = message['event'];
    if (event === CONNECTED) return this.#connectedMessage(message);
    if (event === undefined) {
      // Vonage's first guide showed the first message without `event` (`{"content-type":…, …}`):
      // as the first message, with a content-type, it is read as websocket:connected.
      if (!this.#connected && message['content-type'] !== undefined) return this.#connectedMessage(message);
      throw invalidPayload('event is required');
    }
    if (typeof event !== 'string') throw invalidPayload('event must be a string');
    // websocket:dtmf, websocket:cleared, websocket:notify, and whatever Vonage adds later.
    return Object.freeze([
      Object.freeze({ type: 'ignored', what: event.slice(0, MAX_REPORTED_CHARS) } as const),
    ]);
  }

  #connectedMessage(headers: JsonObject): readonly StreamEvent[] {
    if (this.#connected) throw invalidPayload('websocket:connected received twice');
    const sampleRateHz = contentTypeRate(headers['content-type']);

    const callId = nullableStringField(headers, 'call_id', 'call_id header');
    if (callId !== null && !isValidCallId(callId)) throw invalidPayload(`call_id must be ${CALL_ID_RULE}`);
    const uuid = nullableStringField(headers, 'uuid', 'uuid header');
    if (uuid !== null && !isValidCallId(uuid)) throw invalidPayload(`uuid must be ${CALL_ID_RULE}`);
    const conversationUuid = nullableStringField(headers, 'conversation_uuid', 'conversation_uuid header');
    if (conversationUuid !== null && !isValidCallId(conversationUuid)) {
      throw invalidPayload(`conversation_uuid must be ${CALL_ID_RULE}`);
    }
    // Vonage's websocket:connected carries no id of its own: the NCCO must name the call. With an
    // explicit call_id alone, that id is also the "platform's" one (the shape wants a string).
    const platformCallId = uuid ?? conversationUuid ?? callId;
    if (platformCallId === null) {
      throw new AppError(
        'MISSING_CALL_ID',
        'add a call_id (or the uuid) header to the NCCO websocket endpoint',
      );
    }
    const credential = nullableStringField(headers, 'token', 'token header');
    if (credential === '') throw invalidPayload('token must not be empty');

    const event: StreamStart = Object.freeze({
      type: 'start',
      callId,
      platformCallId,
      credential,
      participants: PARTICIPANTS,
      interleaved: false,
      format: Object.freeze({ encoding: 'pcm16', sampleRateHz }),
      from: numberHeader(headers, 'from'),
      to: numberHeader(headers, 'to'),
    });
    this.#audioRule = mediaPayloadRule({
      field: 'audio message',
      maxBytes: (sampleRateHz * MAX_AUDIO_MS * 2) / 1000,
      bytesPerSample: 2,
      tooBig: `audio message exceeds ${MAX_AUDIO_MS} ms`,
      partialSample: 'audio message must be whole 16-bit samples',
    });
    this.#connected = true;
    return Object.freeze([event]);
  }
}

/**
 * The rate of `audio/l16;rate=N`, the only codec Vonage streams. Its L16 is little-endian (its
 * guides, its SDKs and every client write the bytes straight into WAV), although RFC 3551's L16
 * is network order: the fixture README gives the sources.
 */
function contentTypeRate(value: unknown): number {
  if (value === undefined || value === null) throw invalidPayload('content-type is required');
  if (typeof value !== 'string') throw invalidPayload('content-type must be a string');
  const [type, ...parameters] = value.split(';');
  const mediaType = type.trim().toLowerCase();
  if (mediaType !== 'audio/l16') {
    const name = /^[a-z0-9._/+-]{1,32}$/.test(mediaType) ? `'${mediaType}'` : '(unrecognised)';
    throw new AppError('UNSUPPORTED_DATA', `content-type ${name} is not supported (audio/l16 only)`);
  }
  for (const parameter of parameters) {
    const [key, rateText] = parameter.split('=');
    if (key.trim().toLowerCase() !== 'rate') continue;
    const digits = /^\s*(\d{1,6})\s*$/.exec(rateText ?? '');
    if (digits === null) throw invalidPayload('content-type has a malformed rate');
    const rate = Number(digits[1]);
    if (VONAGE_SAMPLE_RATES.includes(rate)) return rate;
    // A checked integer of at most 6 digits: safe to name.
    throw new AppError('UNSUPPORTED_DATA', `sample rate ${rate} Hz is not supported (${SAMPLE_RATES_TEXT})`);
  }
  throw invalidPayload('content-type must name a rate (audio/l16;rate=16000)');
}

/**
 * A `from`/`to` header (informational, copied by the NCCO from the answer webhook): a string, or a
 * number as Vonage's own examples write phone numbers in headers; null when absent or empty.
 */
function numberHeader(headers: JsonObject, name: 'from' | 'to'): string | null {
  const value = headers[name];
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  throw invalidPayload(`${name} header must be a string`);
}
