import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import {
  counterField,
  invalidPayload,
  isJsonObject,
  type JsonObject,
  objectField,
  optionalStringField,
  parseEventMessage,
  stringField,
} from './json-field.js';
import { decodeMediaPayload, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import {
  TWILIO_MEDIA_FORMAT,
  TWILIO_TRACK_PARTICIPANT,
  type TwilioConnectedEvent,
  type TwilioDtmfEvent,
  type TwilioEvent,
  type TwilioMarkEvent,
  type TwilioMediaEvent,
  type TwilioMediaFormat,
  type TwilioParticipant,
  type TwilioStartEvent,
  type TwilioStopEvent,
  type TwilioTrack,
} from './twilio-event.js';

/**
 * Most μ-law bytes one `media` message may carry: 1 s at 8 kHz (Twilio sends 160, i.e. 20 ms). In
 * SignalWire's L16 formats the bound is 1 s too: 2 bytes per sample at the declared rate.
 */
export const TWILIO_MAX_PAYLOAD_BYTES = 8000;

/**
 * Longest accepted text message, in characters (a 20 ms media message is ~400; a start message
 * with custom parameters a few KiB). Also a fit for the WebSocket server's `maxPayload` in bytes.
 */
export const TWILIO_MAX_MESSAGE_CHARS = 65_536;

/** Where a stream is in its life: `start` opens it, `stop` ends it. */
export const TwilioStreamState = Object.freeze({
  AWAITING_START: 'awaiting-start',
  STREAMING: 'streaming',
  STOPPED: 'stopped',
} as const);
export type TwilioStreamState = (typeof TwilioStreamState)[keyof typeof TwilioStreamState];

const MAX_REPORTED_EVENT_CHARS = 32;

/** Twilio's μ-law: up to 1 s at 8 kHz. */
const MULAW_PAYLOAD_RULE: MediaPayloadRule = mediaPayloadRule({
  field: 'media.payload',
  maxBytes: TWILIO_MAX_PAYLOAD_BYTES,
  bytesPerSample: 1,
});

/** SignalWire's L16: up to 1 s at the declared rate, whole 16-bit samples. */
function l16PayloadRule(sampleRateHz: number): MediaPayloadRule {
  return mediaPayloadRule({
    field: 'media.payload',
    maxBytes: sampleRateHz * 2,
    bytesPerSample: 2,
    partialSample: 'media.payload must hold whole 16-bit samples',
  });
}

/**
 * Parser for one Twilio Media Streams WebSocket connection (one instance per socket): validates
 * each JSON text message and turns it into a {@link TwilioEvent}. Pure: no I/O, no timers.
 *
 * Order rules: `media` only between `start` and `stop`; `start` at most once and not after `stop`;
 * `stop` at most once (also accepted before `start`: the stream is over either way). `connected`,
 * `mark` and `dtmf` are accepted at any time; unknown events come back as `ignored`. A message
 * whose `streamSid` differs from the one announced in `start` is rejected. `media` on a track
 * not listed in `start.tracks` is accepted (both tracks map to known participants).
 *
 * Every rejection is an {@link AppError}: `INVALID_PAYLOAD` (close 1007) for malformed or
 * out-of-order messages, `MESSAGE_TOO_BIG` (close 1009) for oversized ones, `UNSUPPORTED_DATA`
 * (close 1003) for binary frames. Its message is short (≤ 120 bytes) and safe to use as the close
 * reason. A rejected message leaves the parser's state unchanged.
 */
export class TwilioMediaStreamParser {
  #state: TwilioStreamState = TwilioStreamState.AWAITING_START;
  #start: TwilioStartEvent | undefined;
  /** What a media payload may be in the start's format: 1 s of audio, whole samples. */
  #payloadRule = MULAW_PAYLOAD_RULE;

  /** Where the stream is: awaiting `start`, streaming, or stopped. */
  get state(): TwilioStreamState {
    return this.#state;
  }

  /** The accepted `start` event (call id, token, sids), once there is one. */
  get startEvent(): TwilioStartEvent | undefined {
    return this.#start;
  }

  /**
   * Parses one WebSocket message as delivered by `ws` (`data`, `isBinary`). Twilio only sends
   * text, so a binary message is `UNSUPPORTED_DATA`. `ws` has already checked text is UTF-8.
   */
  parseFrame(data: Buffer | string, isBinary: boolean): TwilioEvent {
    if (isBinary) throw new AppError('UNSUPPORTED_DATA', 'Twilio Media Streams messages must be text (JSON)');
    return this.parse(typeof data === 'string' ? data : data.toString('utf8'));
  }

  /** Parses one JSON text message. */
  parse(text: string): TwilioEvent {
    const { message, event } = parseEventMessage(text, TWILIO_MAX_MESSAGE_CHARS);
    // Most frequent first: media is ~100 messages/s per call with both tracks.
    switch (event) {
      case 'media':
        return this.#media(message);
      case 'start':
        return this.#startMessage(message);
      case 'stop':
        return this.#stop(message);
      case 'mark':
        return markEvent(message);
      case 'dtmf':
        return dtmfEvent(message);
      case 'connected':
        return connectedEvent(message);
      default:
        return Object.freeze({ type: 'ignored', event: event.slice(0, MAX_REPORTED_EVENT_CHARS) });
    }
  }

  #media(message: JsonObject): TwilioMediaEvent {
    if (this.#state !== TwilioStreamState.STREAMING) {
      throw invalidPayload(
        this.#state === TwilioStreamState.STOPPED ? 'media after stop' : 'media before start',
      );
    }
    this.#checkStreamSid(message);
    const media = objectField(message, 'media', 'media');
    const track = media['track'];
    let participant: TwilioParticipant;
    if (track === 'inbound') participant = TWILIO_TRACK_PARTICIPANT.inbound;
    else if (track === 'outbound') participant = TWILIO_TRACK_PARTICIPANT.outbound;
    else throw invalidPayload('media.track must be inbound or outbound');
    const payload = decodeMediaPayload(stringField(media, 'payload', 'media.payload'), this.#payloadRule);
    const chunk = counterField(media, 'chunk', 'media.chunk');
    const timestampMs = counterField(media, 'timestamp', 'media.timestamp');
    // Not frozen, unlike the rare events: freezing costs time on the path taken 100 times/s per call.
    return { type: 'media', track, participant, chunk, timestampMs, payload };
  }

  #startMessage(message: JsonObject): TwilioStartEvent {
    if (this.#state !== TwilioStreamState.AWAITING_START) {
      throw invalidPayload(
        this.#state === TwilioStreamState.STREAMING ? 'start received twice' : 'start after stop',
      );
    }
    const start = parseStart(message);
    this.#start = start;
    const { encoding, sampleRateHz } = start.mediaFormat;
    this.#payloadRule = encoding === 'audio/x-l16' ? l16PayloadRule(sampleRateHz) : MULAW_PAYLOAD_RULE;
    this.#state = TwilioStreamState.STREAMING;
    return start;
  }

  #stop(message: JsonObject): TwilioStopEvent {
    if (this.#state === TwilioStreamState.STOPPED) throw invalidPayload('stop received twice');
    if (this.#state === TwilioStreamState.STREAMING) this.#checkStreamSid(message);
    // Lenient on purpose: losing a stop leaves the call active until the idle timeout, so any
    // shape is accepted as long as the fields that are present have the documented types.
    const stop = message['stop'];
    const fields = isJsonObject(stop) ? stop : EMPTY;
    if (stop !== undefined && fields === EMPTY) throw invalidPayload('stop must be an object');
    const event: TwilioStopEvent = Object.freeze({
      type: 'stop',
      callSid: optionalStringField(fields, 'callSid', 'stop.callSid'),
      accountSid: optionalStringField(fields, 'accountSid', 'stop.accountSid'),
    });
    this.#state = TwilioStreamState.STOPPED;
    return event;
  }

  #checkStreamSid(message: JsonObject): void {
    const streamSid = message['streamSid'];
    // Absent is fine (some Twilio-compatible senders omit it); a different one is another stream.
    if (streamSid !== undefined && streamSid !== this.#start?.streamSid) {
      throw invalidPayload('streamSid does not match the one in start');
    }
  }
}

const EMPTY: JsonObject = Object.freeze({});

function parseStart(message: JsonObject): TwilioStartEvent {
  const start = objectField(message, 'start', 'start');
  const streamSid = nonEmptyString(start, 'streamSid', 'start.streamSid');
  const topStreamSid = message['streamSid'];
  if (topStreamSid !== undefined && topStreamSid !== streamSid) {
    throw invalidPayload('streamSid does not match start.streamSid');
  }
  const callSid = nonEmptyString(start, 'callSid', 'start.callSid');
  const accountSid = optionalStringField(start, 'accountSid', 'start.accountSid');
  const tracks = parseTracks(start['tracks']);
  const mediaFormat = parseMediaFormat(objectField(start, 'mediaFormat', 'start.mediaFormat'));

  // Both optional since ingest keys (SPEC §4.4): without call_id the CallSid names the call, and
  // the credential may be on the URL (`?token=`) instead.
  const params = start['customParameters'];
  if (params !== undefined && !isJsonObject(params))
    throw invalidPayload('start.customParameters must be an object');
  const fields = params ?? EMPTY;
  const callId = fields['call_id'];
  if (callId !== undefined && typeof callId !== 'string')
    throw invalidPayload('start.customParameters.call_id must be a string');
  if (callId !== undefined && !isValidCallId(callId)) {
    throw invalidPayload(`start.customParameters.call_id must be ${CALL_ID_RULE}`);
  }
  const token = fields['token'];
  if (token !== undefined && (typeof token !== 'string' || token.length === 0)) {
    throw invalidPayload('start.customParameters.token must be a non-empty string');
  }
  const customParameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) {
    // defineProperty, not assignment: a parameter named "__proto__" must stay a plain entry.
    if (name !== 'token' && typeof value === 'string') {
      Object.defineProperty(customParameters, name, { value, enumerable: true });
    }
  }
  return Object.freeze({
    type: 'start',
    callId: callId ?? null,
    token: token ?? null,
    streamSid,
    callSid,
    accountSid,
    tracks: Object.freeze(tracks),
    participants: Object.freeze(tracks.map((t) => TWILIO_TRACK_PARTICIPANT[t])),
    mediaFormat,
    customParameters: Object.freeze(customParameters),
  });
}

function parseTracks(value: unknown): TwilioTrack[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidPayload('start.tracks must be a non-empty array of inbound/outbound');
  }
  const tracks: TwilioTrack[] = [];
  for (const track of value) {
    if (track !== 'inbound' && track !== 'outbound') {
      throw invalidPayload('start.tracks must contain only inbound and outbound');
    }
    if (!tracks.includes(track)) tracks.push(track);
  }
  return tracks;
}

/** SignalWire's L16 rates (`codec="L16@16000h"`); 8000 is accepted too. */
const L16_RATES_HZ: readonly number[] = [8000, 16000, 24000];

function parseMediaFormat(format: JsonObject): TwilioMediaFormat {
  const { encoding, sampleRate, channels } = format;
  if (channels === 1) {
    if (encoding === TWILIO_MEDIA_FORMAT.encoding && sampleRate === 8000) return TWILIO_MEDIA_FORMAT;
    if (encoding === 'audio/x-l16' && typeof sampleRate === 'number' && L16_RATES_HZ.includes(sampleRate))
      return Object.freeze({ encoding, sampleRateHz: sampleRate, channels });
  }
  throw invalidPayload(
    'start.mediaFormat must be audio/x-mulaw at 8000 Hz or audio/x-l16 at 8000, 16000 or 24000 Hz, 1 channel',
  );
}

function nonEmptyString(obj: JsonObject, key: string, path: string): string {
  const value = stringField(obj, key, path);
  if (value.length === 0) throw invalidPayload(`${path} must not be empty`);
  return value;
}

function connectedEvent(message: JsonObject): TwilioConnectedEvent {
  return Object.freeze({
    type: 'connected',
    protocol: optionalStringField(message, 'protocol', 'protocol'),
    version: optionalStringField(message, 'version', 'version'),
  });
}

function markEvent(message: JsonObject): TwilioMarkEvent {
  const mark = objectField(message, 'mark', 'mark');
  return Object.freeze({ type: 'mark', name: stringField(mark, 'name', 'mark.name') });
}

function dtmfEvent(message: JsonObject): TwilioDtmfEvent {
  const dtmf = objectField(message, 'dtmf', 'dtmf');
  return Object.freeze({
    type: 'dtmf',
    track: optionalStringField(dtmf, 'track', 'dtmf.track'),
    digit: stringField(dtmf, 'digit', 'dtmf.digit'),
  });
}
