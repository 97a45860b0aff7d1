import { AppError } from '../domain/app-error.js';
import { CALL_ID_RULE, isValidCallId } from '../domain/ids.js';
import { invalidPayload, isJsonObject, type JsonObject, parseObjectBytes } from './json-field.js';
import { checkMediaBytes, type MediaPayloadRule, mediaPayloadRule } from './media-payload.js';
import type {
  Handshake,
  PlatformParser,
  StreamAudio,
  StreamEvent,
  StreamIgnored,
  StreamReply,
  StreamStart,
  WireFormat,
} from './platform-stream.js';

/**
 * Genesys Cloud AudioHook (protocol version 2) on `/ws/audiohook` (SPEC §4.5). Unlike the other
 * platforms it is a protocol, not a stream: Genesys (the client) opens a session with `open` and
 * sends audio only once the server has answered `opened`; it pings, may pause and resume, and ends
 * with a `close` that the server must answer `closed`. Both sides number their text messages
 * (`seq`, from 1) and echo the other side's latest number (`serverseq` / `clientseq`).
 *
 * Sources: purecloudlabs/audiohook-reference-implementation (`app/audiohook/src/protocol/*.ts` for
 * the messages, `app/audiohook/src/server/serversessionimpl.ts` for the server's rules) and
 * https://developer.genesys.cloud/devapps/audiohook. `test/fixtures/platforms/audiohook/README.md`
 * has an example of every message and the readings chosen where sources differ.
 *
 * Authentication happens at the upgrade (`X-API-KEY`, and its RFC 9421 signature:
 * `audiohook-signature.ts`), so the start event carries no credential.
 */

/**
 * The upgrade request's AudioHook headers, lower-case as Node gives them. (Genesys sends no
 * `Sec-WebSocket-Protocol`: AudioHook negotiates nothing at the WebSocket level.)
 */
export const AUDIOHOOK_HEADER = Object.freeze({
  /** The Genesys organization (a UUID); must equal `open.parameters.organizationId`. */
  organizationId: 'audiohook-organization-id',
  /** The session (a UUID); every message's `id`. */
  sessionId: 'audiohook-session-id',
  /** Genesys's correlation id for its own logs (a UUID). */
  correlationId: 'audiohook-correlation-id',
  /** The API key configured in the integration: for earshot, an ingest key (`eik_…`). */
  apiKey: 'x-api-key',
  signature: 'signature',
  signatureInput: 'signature-input',
} as const);

/** The protocol version every message carries. */
export const AUDIOHOOK_VERSION = '2';

/**
 * Longest accepted text message, in bytes: the house 64 KiB (the reference refuses more than
 * 65 535 characters). An `open` is ~1 KiB.
 */
export const AUDIOHOOK_MAX_MESSAGE_BYTES = 65_536;

/** The one wire format earshot accepts: PCMU (G.711 μ-law) at 8000 Hz. */
export const AUDIOHOOK_FORMAT: WireFormat = Object.freeze({ encoding: 'mulaw', sampleRateHz: 8000 });

/** Most audio bytes in one binary message: 1 s of the chosen media (8000 bytes mono, 16 000 stereo). */
export const AUDIOHOOK_MAX_AUDIO_SECONDS = 1;

/** Which participant each AudioHook channel feeds (SPEC §4.5). */
export const AUDIOHOOK_CHANNEL_PARTICIPANT = Object.freeze({
  external: 'caller',
  internal: 'agent',
} as const);
export type AudioHookChannel = keyof typeof AUDIOHOOK_CHANNEL_PARTICIPANT;

/** Where a session is. */
export const AudioHookState = Object.freeze({
  /** Connected; no `open` yet (nor audio allowed). */
  AWAITING_OPEN: 'awaiting-open',
  /** `opened` sent: audio flows. */
  ACTIVE: 'active',
  /** The client said `paused`: no audio until `resumed`. */
  PAUSED: 'paused',
  /** `closed` sent: nothing more may come. */
  CLOSED: 'closed',
  /** An error was returned: the connection is over. */
  FAILED: 'failed',
} as const);
export type AudioHookState = (typeof AudioHookState)[keyof typeof AudioHookState];

/** One channel layout earshot accepts, best first (SPEC §4.5: stereo, external left). */
const CHANNEL_PREFERENCE: readonly (readonly AudioHookChannel[])[] = [
  ['external', 'internal'],
  ['internal', 'external'],
  ['external'],
  ['internal'],
];

/** Formats and rates that may be named in the refusal of an offer (never a client's own text). */
const NAMEABLE_FORMATS = new Set(['PCMU', 'PCMA', 'L16', 'opus']);
const NAMEABLE_RATES = new Set([8000, 16000, 24000, 32000, 44100, 48000]);

const MAX_REPORTED_TYPE_CHARS = 32;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** ISO 8601 duration in seconds, as the reference's `isDuration` (`PT1.02S`). */
const DURATION = /^PT(?:\d*\.)?\d+S$/;

const NOTHING: readonly StreamEvent[] = Object.freeze([]);

/** Creates the parser of one AudioHook connection. */
export function createAudioHookParser(handshake: Handshake): PlatformParser {
  return new AudioHookParser(handshake);
}

/**
 * One connection's AudioHook session: validates each client message (version `2`, the session id
 * constant and equal to the `Audiohook-Session-Id` header, `seq` exactly one more than the last,
 * `serverseq` not ahead of what earshot sent, `position` a duration, `parameters` an object) and
 * answers with the server messages the protocol requires, each with the next server `seq` and
 * `clientseq` = the client's last `seq`:
 *
 * - `open` → a `start` event, then `opened` with the chosen media (PCMU 8000 Hz; stereo before
 *   mono). Start comes first so that an endpoint that refuses the call never sends `opened`. No
 *   PCMU offer → `disconnect` and an UNSUPPORTED_DATA error naming what was offered.
 * - `ping` → `pong`; `close` → `closed` and an `end` of the call (just `closed` before `open`).
 * - `paused` / `resumed` track the pause (audio while paused is an error, as in the reference);
 *   `discarded`, `update`, `error`, Audio Connector's `dtmf`, and unknown types are ignored.
 * - Binary messages are audio of the chosen media: interleaved for stereo (an even byte count),
 *   never empty, at most 1 s.
 *
 * Any error ends the session: it comes back as a `disconnect` reply (so Genesys logs why) and an
 * `error` event; the parser then answers every further message with the same error.
 */
class AudioHookParser implements PlatformParser {
  #state: AudioHookState = AudioHookState.AWAITING_OPEN;
  /** The session id: the header's when Genesys sent one, else the first message's; lower-case. */
  #sessionId: string | null;
  readonly #headerSessionId: string | null;
  readonly #headerOrganizationId: string | null;
  /** The last client `seq` (0 before the first message). */
  #clientSeq = 0;
  /** The last server `seq` sent (0 before the first reply). */
  #serverSeq = 0;
  #started = false;
  /** Participant of mono audio, or null for interleaved stereo. */
  #participant: string | null = null;
  /** Set by `open`, with the channels: 1 s of audio, whole frames (a sample of each channel). */
  #audioRule: MediaPayloadRule | null = null;
  #failure: readonly StreamEvent[] | null = null;

  constructor(handshake: Handshake) {
    const session = handshake.headers[AUDIOHOOK_HEADER.sessionId];
    const organization = handshake.headers[AUDIOHOOK_HEADER.organizationId];
    this.#headerSessionId = typeof session === 'string' ? session.toLowerCase() : null;
    this.#headerOrganizationId = typeof organization === 'string' ? organization.toLowerCase() : null;
    this.#sessionId =
      this.#headerSessionId !== null && UUID.test(this.#headerSessionId) ? this.#headerSessionId : null;
  }

  /** Where the session is (for tests and logs). */
  get state(): AudioHookState {
    return this.#state;
  }

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failure !== null) return this.#failure;
    try {
      return isBinary ? this.#audio(data) : this.#text(data);
    } catch (err) {
      // Only AppErrors are thrown on purpose; anything else is a bug, but the contract is to never
      // throw on content, so it ends this connection as malformed rather than the process.
      return this.#fail(err instanceof AppError ? err : invalidPayload('message could not be parsed'));
    }
  }

  flush(): readonly StreamEvent[] {
    return NOTHING;
  }

  /** The path taken 50 times a second: checks only, no copy (the payload is `ws`'s own buffer). */
  #audio(data: Buffer): readonly StreamEvent[] {
    if (this.#state !== AudioHookState.ACTIVE) {
      throw invalidPayload(
        this.#state === AudioHookState.PAUSED
          ? 'audio while paused'
          : this.#state === AudioHookState.CLOSED
            ? 'audio after close'
            : 'audio before open',
      );
    }
    const payload = checkMediaBytes(data, this.#audioRule!);
    const event: StreamAudio = { type: 'audio', participant: this.#participant, payload };
    return [event];
  }

  #text(data: Buffer): readonly StreamEvent[] {
    if (this.#state === AudioHookState.CLOSED) throw invalidPayload('message after close');
    const message = parseObjectBytes(data, AUDIOHOOK_MAX_MESSAGE_BYTES);
    if (message['version'] !== AUDIOHOOK_VERSION) throw invalidPayload('version must be "2"');
    const type = message['type'];
    if (typeof type !== 'string' || type.length === 0)
      throw invalidPayload('type must be a non-empty string');
    this.#checkSessionId(message['id']);
    const seq = message['seq'];
    if (!isSequenceNumber(seq)) throw invalidPayload('seq must be a non-negative integer');
    if (seq !== this.#clientSeq + 1) throw invalidPayload('seq must be one more than the previous message');
    const serverSeq = message['serverseq'];
    if (!isSequenceNumber(serverSeq)) throw invalidPayload('serverseq must be a non-negative integer');
    if (serverSeq > this.#serverSeq) throw invalidPayload('serverseq is ahead of the messages earshot sent');
    const position = message['position'];
    if (typeof position !== 'string' || !DURATION.test(position)) {
      throw invalidPayload('position must be a duration such as PT1.5S');
    }
    const parameters = message['parameters'];
    if (!isJsonObject(parameters)) throw invalidPayload('parameters must be an object');
    this.#clientSeq = seq;

    switch (type) {
      case 'open':
        return this.#open(parameters);
      case 'ping':
        return [this.#reply('pong', EMPTY_PARAMETERS)];
      case 'close':
        return this.#close(parameters);
      case 'paused':
        if (this.#state === AudioHookState.ACTIVE) this.#state = AudioHookState.PAUSED;
        return [ignored(type)];
      case 'resumed':
        if (this.#state === AudioHookState.PAUSED) this.#state = AudioHookState.ACTIVE;
        return [ignored(type)];
      default:
        // discarded, update, error, Audio Connector's dtmf / playback_*, and types yet to come.
        return [ignored(type)];
    }
  }

  #checkSessionId(id: unknown): void {
    if (typeof id !== 'string' || !UUID.test(id)) throw invalidPayload('id must be a UUID');
    const lower = id.toLowerCase();
    if (this.#headerSessionId !== null && lower !== this.#headerSessionId) {
      throw invalidPayload('id does not match the Audiohook-Session-Id header');
    }
    if (this.#sessionId === null) this.#sessionId = lower;
    else if (lower !== this.#sessionId) throw invalidPayload('id changed during the session');
  }

  #open(parameters: JsonObject): readonly StreamEvent[] {
    if (this.#state !== AudioHookState.AWAITING_OPEN) throw invalidPayload('open received twice');

    const organizationId = parameters['organizationId'];
    if (typeof organizationId !== 'string' || !UUID.test(organizationId)) {
      throw invalidPayload('open.parameters.organizationId must be a UUID');
    }
    // The reference's authenticator does the same check: the header is what the signature covers.
    if (this.#headerOrganizationId !== null && organizationId.toLowerCase() !== this.#headerOrganizationId) {
      throw new AppError(
        'UNAUTHORIZED',
        'open.parameters.organizationId does not match the Audiohook-Organization-Id header',
      );
    }
    const conversationId = parameters['conversationId'];
    if (typeof conversationId !== 'string')
      throw invalidPayload('open.parameters.conversationId is required');
    if (!isValidCallId(conversationId)) {
      throw invalidPayload(`open.parameters.conversationId must be ${CALL_ID_RULE}`);
    }
    const callId = explicitCallId(parameters);
    const { from, to } = numbers(parameters['participant']);
    const channels = chooseMedia(parameters['media']);
    if (channels === null) return this.#refuseMedia(parameters['media'] as unknown[]);

    const start: StreamStart = Object.freeze({
      type: 'start',
      callId,
      platformCallId: conversationId,
      credential: null,
      participants: Object.freeze(channels.map((c) => AUDIOHOOK_CHANNEL_PARTICIPANT[c])),
      interleaved: channels.length === 2,
      format: AUDIOHOOK_FORMAT,
      from,
      to,
    });
    const opened: Record<string, unknown> = {
      media: [{ type: 'audio', format: 'PCMU', channels, rate: AUDIOHOOK_FORMAT.sampleRateHz }],
      startPaused: false,
    };
    // The reference answers a request for supported languages with its list; earshot has none.
    if (parameters['supportedLanguages'] === true) opened['supportedLanguages'] = [];
    const reply = this.#reply('opened', opened);

    this.#started = true;
    this.#state = AudioHookState.ACTIVE;
    this.#participant = channels.length === 2 ? null : AUDIOHOOK_CHANNEL_PARTICIPANT[channels[0]];
    this.#audioRule = channels.length === 2 ? STEREO_AUDIO_RULE : MONO_AUDIO_RULE;
    return Object.freeze([start, reply]);
  }

  /** No acceptable offer: tell Genesys why (`disconnect`) and end with UNSUPPORTED_DATA naming what came. */
  #refuseMedia(offers: readonly unknown[]): readonly StreamEvent[] {
    const named = new Set<string>();
    for (const offer of offers) {
      if (named.size === 3) break;
      const o = offer as JsonObject;
      const format =
        typeof o['format'] === 'string' && NAMEABLE_FORMATS.has(o['format']) ? o['format'] : 'other';
      const rate = typeof o['rate'] === 'number' && NAMEABLE_RATES.has(o['rate']) ? `/${o['rate']}` : '';
      named.add(format + rate);
    }
    const offered = named.size === 0 ? 'none' : [...named].join(', ');
    return this.#fail(
      new AppError('UNSUPPORTED_DATA', `no supported media offered (${offered}); earshot takes PCMU/8000`),
    );
  }

  #close(parameters: JsonObject): readonly StreamEvent[] {
    // Lenient on purpose: a refused close would leave the call active until the idle timeout, so
    // any reason string (or none) is accepted.
    const reason = parameters['reason'];
    if (reason !== undefined && typeof reason !== 'string') {
      throw invalidPayload('close.parameters.reason must be a string');
    }
    const reply = this.#reply('closed', EMPTY_PARAMETERS);
    this.#state = AudioHookState.CLOSED;
    return this.#started ? Object.freeze([reply, END_OF_CALL]) : Object.freeze([reply]);
  }

  #reply(type: string, parameters: object): StreamReply {
    // The reference's field order: version, type, id, seq, clientseq, parameters.
    const text = JSON.stringify({
      version: AUDIOHOOK_VERSION,
      type,
      id: this.#sessionId,
      seq: ++this.#serverSeq,
      clientseq: this.#clientSeq,
      parameters,
    });
    return Object.freeze({ type: 'reply', text });
  }

  /**
   * Ends the session with `error`. Like the reference's `signalClientError`, a `disconnect` tells
   * Genesys why first (its info is the error's client-safe message) — unless there is no session
   * id to address it to, or `closed` was already sent.
   */
  #fail(error: AppError): readonly StreamEvent[] {
    const event = Object.freeze({ type: 'error' as const, error });
    const canDisconnect = this.#sessionId !== null && this.#state !== AudioHookState.CLOSED;
    const reason = error.code === 'UNAUTHORIZED' ? 'unauthorized' : 'error';
    const events = canDisconnect
      ? [this.#reply('disconnect', { reason, info: error.message }), event]
      : [event];
    this.#state = AudioHookState.FAILED;
    this.#failure = Object.freeze([event]);
    return Object.freeze(events);
  }
}

const EMPTY_PARAMETERS = Object.freeze({});
const END_OF_CALL = Object.freeze({ type: 'end', scope: 'call' } as const);

/** Binary audio of the chosen media, μ-law (a byte a sample): at most 1 s, whole frames of `channels`. */
function audioRule(channels: number): MediaPayloadRule {
  return mediaPayloadRule({
    field: 'audio message',
    maxBytes: AUDIOHOOK_FORMAT.sampleRateHz * AUDIOHOOK_MAX_AUDIO_SECONDS * channels,
    bytesPerSample: channels,
    partialSample: 'stereo audio must hold whole sample pairs (an even byte count)',
  });
}
const MONO_AUDIO_RULE = audioRule(1);
const STEREO_AUDIO_RULE = audioRule(2);

function ignored(type: string): StreamIgnored {
  return Object.freeze({ type: 'ignored', what: type.slice(0, MAX_REPORTED_TYPE_CHARS) });
}

function isSequenceNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The call id chosen explicitly: `customConfig.call_id` (the JSON an AudioHook Monitor integration
 * sends as `customConfig`), else `inputVariables.call_id` (Audio Connector's flow variables).
 */
function explicitCallId(parameters: JsonObject): string | null {
  for (const container of ['customConfig', 'inputVariables'] as const) {
    const object = parameters[container];
    if (object === undefined) continue;
    if (!isJsonObject(object)) throw invalidPayload(`open.parameters.${container} must be an object`);
    const callId = object['call_id'];
    if (callId === undefined) continue;
    if (typeof callId !== 'string' || !isValidCallId(callId)) {
      throw invalidPayload(`open.parameters.${container}.call_id must be ${CALL_ID_RULE}`);
    }
    return callId;
  }
  return null;
}

/** `participant.ani` / `dnis` as from / to (null when absent or empty). */
function numbers(participant: unknown): { from: string | null; to: string | null } {
  if (participant === undefined) return { from: null, to: null };
  if (!isJsonObject(participant)) throw invalidPayload('open.parameters.participant must be an object');
  return {
    from: optionalNumber(participant['ani'], 'open.parameters.participant.ani'),
    to: optionalNumber(participant['dnis'], 'open.parameters.participant.dnis'),
  };
}

function optionalNumber(value: unknown, path: string): string | null {
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string') throw invalidPayload(`${path} must be a string`);
  return value;
}

/**
 * The channels of the best acceptable offer (PCMU, 8000 Hz; see CHANNEL_PREFERENCE), or null when
 * none is acceptable. Offers of other formats or rates are passed over, not refused: Genesys may
 * offer more than earshot takes.
 */
function chooseMedia(media: unknown): readonly AudioHookChannel[] | null {
  if (!Array.isArray(media)) throw invalidPayload('open.parameters.media must be an array');
  let best = CHANNEL_PREFERENCE.length;
  for (const offer of media) {
    if (!isJsonObject(offer)) throw invalidPayload('open.parameters.media must hold objects');
    const channels = offer['channels'];
    if (!Array.isArray(channels)) throw invalidPayload('open.parameters.media[].channels must be an array');
    if (offer['type'] !== 'audio' || offer['format'] !== 'PCMU' || offer['rate'] !== 8000) continue;
    const rank = CHANNEL_PREFERENCE.findIndex(
      (layout) => layout.length === channels.length && layout.every((c, i) => channels[i] === c),
    );
    if (rank < 0) {
      throw invalidPayload('open.parameters.media[].channels must be 1 or 2 distinct of external, internal');
    }
    if (rank < best) best = rank;
  }
  return best < CHANNEL_PREFERENCE.length ? CHANNEL_PREFERENCE[best] : null;
}
