import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId, isValidParticipant } from '../domain/ids.js';
import { invalidPayload, type JsonObject, nullableStringField, parseObjectBytes } from './json-field.js';
import { checkMediaBytes, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import {
  type Handshake,
  MAX_STREAM_PAYLOAD_BYTES,
  type PlatformParser,
  type StreamEvent,
  type StreamStart,
  type WireEncoding,
} from './platform-stream.js';

/**
 * Asterisk's WebSocket media channel (`chan_websocket`: `Dial(WebSocket/<connection>/c(<codec>))`,
 * or ARI `/channels/externalMedia?transport=websocket&encapsulation=none`) as an ingest adapter,
 * `/ws/asterisk` (SPEC §4.6). Asterisk connects (a `websocket_client.conf` connection whose `uri` is
 * earshot's) and sends, in order:
 *
 * 1. one text message, `MEDIA_START`, in the plain form
 *    `MEDIA_START connection_id:… channel:… channel_id:… format:ulaw optimal_frame_size:160 ptime:20`
 *    (the default) or the JSON form `{"event":"MEDIA_START", "connection_id", "channel",
 *    "channel_id", "format", "optimal_frame_size", "ptime", "channel_variables"}` (`f(json)`);
 * 2. binary messages: the channel's codec, raw (no header), one Asterisk frame each (20 ms);
 * 3. text events between them, in the same form: `DTMF_END`, `MEDIA_XOFF`, `MEDIA_XON`, `STATUS`,
 *    `MEDIA_BUFFERING_COMPLETED`, `MEDIA_MARK_PROCESSED`, `QUEUE_DRAINED`, `ERROR` — `ignored`;
 *    `HANGUP` (a command, which some relays pass on) ends the participant.
 *
 * Asterisk hangs up by closing the socket; that close ends the participant (the endpoint's business).
 *
 * - The call: the platform's id is `channel_id` (the channel's unique id); the first releases send
 *   none, and then the `connection_id` (a UUID) stands in. An explicit `?call_id=` is the
 *   endpoint's (it wins), so the start's `callId` is always null.
 * - The participant: the upgrade's `?participant=` (default `caller`), one per socket.
 * - The credential: `?token=`, or the password of the `Authorization: Basic` header that Asterisk
 *   sends for a `websocket_client.conf` `username`/`password` ({@link asteriskHandshakeCredential}).
 * - Formats: `ulaw`, `alaw`, and `slin` at every rate Asterisk defines up to 48 kHz (`slin`,
 *   `slin12`, `slin16`, `slin24`, `slin32`, `slin44`, `slin48`), 16-bit in the host's byte order:
 *   little-endian. Other codecs are refused (UNSUPPORTED_DATA naming them).
 * - Audio before `MEDIA_START` (asterisk/asterisk#1712: the media thread can write before the
 *   `MEDIA_START` is sent): the latest {@link ASTERISK_PRESTART_HOLD_MESSAGES} messages are held
 *   and released, after the start, when `MEDIA_START` gives their format; older ones are dropped.
 *
 * Message shapes, sources and the readings chosen: test/fixtures/platforms/asterisk/README.md.
 */

/** Longest accepted text message, in bytes (a JSON `MEDIA_START` carries every channel variable). */
export const ASTERISK_MAX_TEXT_BYTES = 65_536;

/** Longest audio one binary message may carry. Asterisk sends one 20 ms frame per message. */
const MAX_AUDIO_MS = 1000;

/** The largest WebSocket message Asterisk may send, in bytes (the server's `maxPayload`): 1 s of slin48. */
export const ASTERISK_MAX_MESSAGE_BYTES = Math.max(
  ASTERISK_MAX_TEXT_BYTES,
  (48_000 * MAX_AUDIO_MS * 2) / 1000,
);

/**
 * Binary messages held while `MEDIA_START` is late: 15 Asterisk frames, 300 ms. When more arrive,
 * the oldest is dropped: what is released stays at most 300 ms behind.
 */
export const ASTERISK_PRESTART_HOLD_MESSAGES = 15;

/** Bytes held while `MEDIA_START` is late, at most: 300 ms of slin48 is 28 800. */
export const ASTERISK_PRESTART_HOLD_BYTES = 32_768;

/** The participant a socket feeds when the URL names none. */
export const ASTERISK_DEFAULT_PARTICIPANT = 'caller';

interface Codec {
  readonly encoding: WireEncoding;
  readonly sampleRateHz: number;
  readonly bytesPerSample: number;
}

/** Asterisk's format names (main/format_cache.c) that earshot decodes, with their rates (main/codec_builtin.c). */
const CODECS: ReadonlyMap<string, Codec> = new Map(
  [
    ['ulaw', 'mulaw', 8000],
    ['alaw', 'alaw', 8000],
    ['slin', 'pcm16', 8000],
    ['slin12', 'pcm16', 12000],
    ['slin16', 'pcm16', 16000],
    ['slin24', 'pcm16', 24000],
    ['slin32', 'pcm16', 32000],
    ['slin44', 'pcm16', 44100],
    ['slin48', 'pcm16', 48000],
  ].map(([name, encoding, rate]) => [
    name as string,
    Object.freeze({
      encoding: encoding as WireEncoding,
      sampleRateHz: rate as number,
      bytesPerSample: encoding === 'pcm16' ? 2 : 1,
    }),
  ]),
);
const USE_SUPPORTED = 'use ulaw, alaw or slin (8-48 kHz)';

const MEDIA_START = 'MEDIA_START';
const HANGUP = 'HANGUP';
const MAX_REPORTED_CHARS = 32;
const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const END_PARTICIPANTS: readonly StreamEvent[] = Object.freeze([
  Object.freeze({ type: 'end', scope: 'participants' } as const),
]);
const IGNORED_HANGUP_BEFORE_START = ignored('HANGUP before MEDIA_START');
const IGNORED_AFTER_HANGUP = ignored('message after HANGUP');
const DROPPED_BEFORE_START = ignored('audio before MEDIA_START dropped');
/** An Asterisk event or command name in the plain form: upper-case letters, digits, `_`. */
const EVENT_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

function ignored(what: string): readonly StreamEvent[] {
  return Object.freeze([
    Object.freeze({ type: 'ignored', what: what.slice(0, MAX_REPORTED_CHARS) } as const),
  ]);
}

/** A parser for one Asterisk WebSocket media connection; the handshake's `?participant=` names its participant. */
export function createAsteriskParser(handshake: Handshake): PlatformParser {
  return new AsteriskParser(handshake);
}

/**
 * The participant the upgrade's `?participant=` names (default `caller`), for the endpoint to check
 * before the upgrade (HTTP 400) as the parser does at the first message.
 * @throws AppError `VALIDATION_ERROR` (repeated, or not 1-64 characters of [A-Za-z0-9_.-]).
 */
export function asteriskParticipant(query: URLSearchParams): string {
  const values = query.getAll('participant');
  if (values.length > 1) throw new AppError('VALIDATION_ERROR', 'participant must be given at most once');
  const name = values[0] ?? ASTERISK_DEFAULT_PARTICIPANT;
  if (!isValidParticipant(name)) {
    throw new AppError('VALIDATION_ERROR', 'participant must be 1-64 characters of [A-Za-z0-9_.-]');
  }
  return name;
}

/**
 * The credential in the upgrade's `Authorization: Basic …` header, for the endpoint to check before
 * the upgrade: Asterisk's websocket client sends `username`/`password` of the `websocket_client.conf`
 * connection (or the URI's user info) that way. The password is the credential (an ingest key or a
 * call's ingest token); the user name is free. Null when there is no such header or no password.
 */
export function asteriskHandshakeCredential(handshake: Handshake): string | null {
  const header = handshake.headers['authorization'];
  const raw = Array.isArray(header) ? (header.length === 1 ? header[0] : undefined) : header;
  if (typeof raw !== 'string') return null;
  const basic = /^\s*basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(raw);
  if (basic === null) return null;
  const pair = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  const password = colon < 0 ? '' : pair.slice(colon + 1);
  return password === '' ? null : password;
}

const State = { AWAITING_START: 0, STREAMING: 1, HUNG_UP: 2 } as const;
type State = (typeof State)[keyof typeof State];

class AsteriskParser implements PlatformParser {
  /** The URL's participant, or the error it is (reported at the first message). */
  readonly #participant: string | AppError;
  #participants: readonly string[] = [];
  #state: State = State.AWAITING_START;
  /** Set by MEDIA_START, with the format: 1 s of audio, whole samples. */
  #audioRule: MediaPayloadRule | null = null;
  /** Copies of the binary messages that came before MEDIA_START, oldest first (bounded). */
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  /** Set once an error was returned: every later call returns it again. */
  #failed: readonly StreamEvent[] | null = null;

  constructor(handshake: Handshake) {
    let participant: string | AppError;
    try {
      participant = asteriskParticipant(handshake.query);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      participant = err;
    }
    this.#participant = participant;
    if (typeof participant === 'string') this.#participants = Object.freeze([participant]);
  }

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    try {
      if (this.#participant instanceof AppError) throw this.#participant;
      return isBinary ? this.#audio(data) : this.#text(data);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err } as const)]);
      return this.#failed;
    }
  }

  /**
   * Nothing to release: audio held before a MEDIA_START that never came has no known format (and
   * no call to go to); Asterisk has no stop message beyond closing the socket.
   */
  flush(): readonly StreamEvent[] {
    this.#held = null;
    this.#heldBytes = 0;
    return NOTHING;
  }

  #audio(data: Buffer): readonly StreamEvent[] {
    if (this.#state === State.STREAMING) {
      // The bytes are passed on as they came: every bit pattern is a valid sample.
      return [
        {
          type: 'audio',
          participant: this.#participants[0],
          payload: checkMediaBytes(data, this.#audioRule!),
        },
      ];
    }
    if (this.#state === State.HUNG_UP) throw invalidPayload('audio after HANGUP');
    return this.#hold(data);
  }

  /** Keeps a copy of audio that came before MEDIA_START: the latest messages, within both bounds. */
  #hold(data: Buffer): readonly StreamEvent[] {
    if (data.length === 0) throw invalidPayload('audio message is empty');
    if (data.length > ASTERISK_PRESTART_HOLD_BYTES) return DROPPED_BEFORE_START;
    const held = (this.#held ??= []);
    let dropped = false;
    while (
      held.length > 0 &&
      (held.length >= ASTERISK_PRESTART_HOLD_MESSAGES ||
        this.#heldBytes + data.length > ASTERISK_PRESTART_HOLD_BYTES)
    ) {
      this.#heldBytes -= held.shift()!.length;
      dropped = true;
    }
    // A copy: the socket's buffer is only lent for this call. Rare and bounded (the start is late).
    held.push(Buffer.from(data));
    this.#heldBytes += data.length;
    return dropped ? DROPPED_BEFORE_START : NOTHING;
  }

  #text(data: Buffer): readonly StreamEvent[] {
    if (data.length > ASTERISK_MAX_TEXT_BYTES) {
      throw new AppError('MESSAGE_TOO_BIG', `text message exceeds ${ASTERISK_MAX_TEXT_BYTES} bytes`);
    }
    const text = data.toString('utf8');
    let at = 0;
    while (at < text.length && isSpace(text.charCodeAt(at))) at++;
    if (at === text.length) throw invalidPayload('text message is empty');
    return text.charCodeAt(at) === 0x7b /* { */ ? this.#json(data) : this.#plain(text, at);
  }

  /** The JSON form (`f(json)`): `{"event": NAME, …}`; a command's `{"command": NAME}` is read the same. */
  #json(data: Buffer): readonly StreamEvent[] {
    const message = parseObjectBytes(data, ASTERISK_MAX_TEXT_BYTES);
    let name = message['event'];
    if (name === undefined) name = message['command'];
    if (name === undefined) throw invalidPayload('event is required');
    if (typeof name !== 'string') throw invalidPayload('event must be a string');
    if (name === MEDIA_START) return this.#start(jsonStart(message));
    return this.#other(name);
  }

  /** The plain form: `NAME key:value key:value …` on one line (parameters only MEDIA_START's are read). */
  #plain(text: string, from: number): readonly StreamEvent[] {
    let end = from;
    while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
    const name = text.slice(from, end);
    if (!EVENT_NAME.test(name)) throw invalidPayload('text message is not an Asterisk event');
    if (name === MEDIA_START) return this.#start(plainStart(text, end));
    return this.#other(name);
  }

  #other(name: string): readonly StreamEvent[] {
    if (this.#state === State.HUNG_UP) return IGNORED_AFTER_HANGUP;
    if (name === HANGUP) {
      const wasStreaming = this.#state === State.STREAMING;
      this.#state = State.HUNG_UP;
      this.#held = null;
      this.#heldBytes = 0;
      return wasStreaming ? END_PARTICIPANTS : IGNORED_HANGUP_BEFORE_START;
    }
    // DTMF_END, MEDIA_XOFF, MEDIA_XON, STATUS, MEDIA_BUFFERING_COMPLETED, MEDIA_MARK_PROCESSED,
    // QUEUE_DRAINED, ERROR (answers to commands earshot never sends), and whatever comes later.
    return ignored(name);
  }

  #start(fields: StartFields): readonly StreamEvent[] {
    if (this.#state === State.STREAMING) throw invalidPayload('MEDIA_START received twice');
    if (this.#state === State.HUNG_UP) throw invalidPayload('MEDIA_START after HANGUP');
    const codec = codecNamed(fields.format);
    let platformCallId = fields.channelId;
    if (platformCallId !== null) {
      if (!isValidCallId(platformCallId)) throw invalidPayload(`channel_id must be ${CALL_ID_RULE}`);
    } else {
      platformCallId = fields.connectionId;
      if (platformCallId === null) throw invalidPayload('MEDIA_START must carry channel_id or connection_id');
      if (!isValidCallId(platformCallId)) throw invalidPayload(`connection_id must be ${CALL_ID_RULE}`);
    }
    const rule = mediaPayloadRule({
      field: 'audio message',
      maxBytes: Math.min(
        (codec.sampleRateHz * MAX_AUDIO_MS * codec.bytesPerSample) / 1000,
        MAX_STREAM_PAYLOAD_BYTES,
      ),
      bytesPerSample: codec.bytesPerSample,
      tooBig: `audio message exceeds ${MAX_AUDIO_MS} ms`,
      partialSample: 'audio message must be whole 16-bit samples',
    });
    const participant = this.#participants[0];
    // The held audio is checked before anything changes: a bad one refuses the whole stream.
    const held = this.#held;
    const out: StreamEvent[] = [];
    const start: StreamStart = Object.freeze({
      type: 'start',
      callId: null,
      platformCallId,
      credential: null,
      participants: this.#participants,
      interleaved: false,
      format: Object.freeze({ encoding: codec.encoding, sampleRateHz: codec.sampleRateHz }),
      from: null,
      to: null,
    });
    out.push(start);
    if (held !== null) {
      for (const payload of held)
        out.push({ type: 'audio', participant, payload: checkMediaBytes(payload, rule) });
    }
    this.#audioRule = rule;
    this.#held = null;
    this.#heldBytes = 0;
    this.#state = State.STREAMING;
    return out;
  }
}

/** What MEDIA_START says that earshot reads; null where absent. */
interface StartFields {
  readonly connectionId: string | null;
  readonly channelId: string | null;
  readonly format: string | null;
}

function jsonStart(message: JsonObject): StartFields {
  return {
    connectionId: nullableStringField(message, 'connection_id', 'MEDIA_START connection_id'),
    channelId: nullableStringField(message, 'channel_id', 'MEDIA_START channel_id'),
    format: nullableStringField(message, 'format', 'MEDIA_START format'),
  };
}

/**
 * The parameters of a plain MEDIA_START after its name: space-separated `key:value` (split at the
 * first colon). Keys not read here (`channel`, `optimal_frame_size`, `ptime`, and those later
 * releases add, e.g. `passthrough`) are skipped; a word without a colon too. A key given twice is
 * ambiguous: refused.
 */
function plainStart(text: string, from: number): StartFields {
  let connectionId: string | null = null;
  let channelId: string | null = null;
  let format: string | null = null;
  let at = from;
  while (at < text.length) {
    while (at < text.length && isSpace(text.charCodeAt(at))) at++;
    let end = at;
    while (end < text.length && !isSpace(text.charCodeAt(end))) end++;
    if (end === at) break;
    const word = text.slice(at, end);
    at = end;
    const colon = word.indexOf(':');
    if (colon <= 0) continue;
    const key = word.slice(0, colon);
    const value = word.slice(colon + 1);
    if (key === 'connection_id') {
      if (connectionId !== null) throw invalidPayload('MEDIA_START connection_id given twice');
      connectionId = value;
    } else if (key === 'channel_id') {
      if (channelId !== null) throw invalidPayload('MEDIA_START channel_id given twice');
      channelId = value;
    } else if (key === 'format') {
      if (format !== null) throw invalidPayload('MEDIA_START format given twice');
      format = value;
    }
  }
  return { connectionId, channelId, format };
}

function codecNamed(format: string | null): Codec {
  if (format === null || format === '') throw invalidPayload('MEDIA_START format is required');
  const name = format.toLowerCase();
  const codec = CODECS.get(name);
  if (codec !== undefined) return codec;
  // A short token of safe characters may be named back; anything else is not echoed.
  const named = /^[a-z0-9_.-]{1,16}$/.test(name) ? `'${name}'` : '(unrecognised)';
  throw new AppError('UNSUPPORTED_DATA', `Asterisk format ${named} is not supported: ${USE_SUPPORTED}`);
}

/** ASCII whitespace as Asterisk writes and a relay might: space, tab, CR, LF. */
function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}
