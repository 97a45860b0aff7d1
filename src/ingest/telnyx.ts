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
 * Telnyx media streaming over WebSocket (SPEC §4.5, `/ws/telnyx`) as an ingest adapter. Telnyx
 * connects to the `stream_url` given to Call Control (`dial`, `answer`, `streaming_start`) or TeXML
 * `<Stream>` and sends JSON text messages: `connected`, `start` (the call, the media format), `media`
 * (base64 RTP payloads, no RTP header, per track), `dtmf`, `mark`, `error` and `stop`. Message shapes,
 * sources and the readings chosen where they disagree: test/fixtures/platforms/telnyx/README.md.
 *
 * - The call: `start.custom_parameters.call_id` when given (explicit), else `start.call_control_id`.
 * - The credential: the `x-telnyx-streaming-auth-token` upgrade header (Call Control's
 *   `stream_auth_token`, read by {@link telnyxHandshakeCredential} before the upgrade); inside the
 *   protocol, `start.custom_parameters.token`, else the same token as Telnyx repeats it in `connected`.
 * - Tracks: `inbound` (what Telnyx receives from the call leg: the customer) → `caller`, `outbound`
 *   (what it sends to the leg: the agent or bot) → `agent`. `start` does not say which tracks were
 *   requested (`stream_track` is a command parameter), so every stream announces both.
 * - Formats: PCMU, PCMA, and L16 (network byte order, as in RTP); G722, OPUS, AMR-WB are refused.
 * - Telnyx documents that media order is not guaranteed: each track's chunks are put back in order
 *   here (see {@link ChunkReorderer}).
 * - `stop` completes the call (`end` scope `call`).
 */

/**
 * Longest accepted text message, in characters (a 20 ms PCMU media message is ~330; 20 ms of 48 kHz
 * L16 ~2.7 Ki). The WebSocket server's `maxPayload` fits it at 4 bytes per character.
 */
export const TELNYX_MAX_MESSAGE_CHARS = 65_536;

/** The upgrade header that carries Call Control's `stream_auth_token` (lower case, as Node gives it). */
export const TELNYX_STREAMING_AUTH_HEADER = 'x-telnyx-streaming-auth-token';

/**
 * How many out-of-order chunks a track may hold while it waits for a missing one: 5 × 20 ms = 100 ms.
 * A gap still open when a sixth arrives is given up: the missing chunk is skipped.
 */
export const TELNYX_REORDER_WINDOW_CHUNKS = 5;

const BEARER = 'bearer ';

/**
 * The credential the upgrade request carries, for the endpoint to check before the upgrade: the
 * `x-telnyx-streaming-auth-token` header, which Telnyx sets to the `stream_auth_token` given to Call
 * Control. Telnyx sends the bare token; a `Bearer ` prefix is removed all the same (cheap, and some
 * proxies and test clients add it). Absent, empty or repeated (ambiguous): null.
 */
export function telnyxHandshakeCredential(handshake: Handshake): string | null {
  let value = handshake.headers[TELNYX_STREAMING_AUTH_HEADER];
  if (Array.isArray(value)) value = value.length === 1 ? value[0] : undefined;
  if (typeof value !== 'string') return null;
  let token = value.trim();
  if (token.length > BEARER.length && token.slice(0, BEARER.length).toLowerCase() === BEARER) {
    token = token.slice(BEARER.length).trimStart();
  }
  return token.length > 0 ? token : null;
}

/** A parser for one Telnyx connection. The handshake carries nothing the parser needs. */
export function createTelnyxParser(_handshake?: Handshake): PlatformParser {
  return new TelnyxParser();
}

const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const PARTICIPANTS: readonly string[] = Object.freeze(['caller', 'agent']);
/** Participant of each track index: 0 inbound, 1 outbound. */
const TRACK_PARTICIPANT = ['caller', 'agent'] as const;
const MAX_REPORTED_EVENT_CHARS = 32;

function ignored(what: string): readonly StreamEvent[] {
  return Object.freeze([Object.freeze({ type: 'ignored', what })]);
}
const IGNORED_CONNECTED = ignored('connected');
const IGNORED_DTMF = ignored('dtmf');
const IGNORED_MARK = ignored('mark');
const IGNORED_ERROR = ignored('error');
const IGNORED_STOP_BEFORE_START = ignored('stop before start');
const END_CALL: StreamEvent = Object.freeze({ type: 'end', scope: 'call' });
/** A later message's `stream_id` that is not the start's (absent is fine: not every sender repeats it). */
const STREAM_ID_MISMATCH = 'stream_id does not match the one in start';

interface Codec {
  readonly encoding: WireEncoding;
  readonly bytesPerSample: number;
  readonly ratesHz: readonly number[];
  readonly rateRule: string;
}

const G711_RULE = 'start.media_format.sample_rate must be 8000 for PCMU and PCMA';
/** What Telnyx can stream that earshot decodes. L16 rates: those Telnyx lists for its streams. */
const CODECS: ReadonlyMap<string, Codec> = new Map([
  ['PCMU', { encoding: 'mulaw', bytesPerSample: 1, ratesHz: [8000], rateRule: G711_RULE }],
  ['PCMA', { encoding: 'alaw', bytesPerSample: 1, ratesHz: [8000], rateRule: G711_RULE }],
  [
    'L16',
    {
      encoding: 'pcm16be',
      bytesPerSample: 2,
      ratesHz: [8000, 16000, 22050, 24000, 48000],
      rateRule: 'start.media_format.sample_rate must be 8000, 16000, 22050, 24000 or 48000 for L16',
    },
  ],
]);
/** Codecs Telnyx documents that earshot does not decode: named in the refusal (our text, not the client's). */
const REFUSED_CODECS: readonly string[] = ['G722', 'OPUS', 'AMR-WB'];
const USE_SUPPORTED = 'use PCMU, PCMA or L16';

const State = { AWAITING_START: 0, STREAMING: 1, STOPPED: 2 } as const;
type State = (typeof State)[keyof typeof State];

class TelnyxParser implements PlatformParser {
  #state: State = State.AWAITING_START;
  /** The token Telnyx repeats in `connected` (a fallback credential for `start`). */
  #connectedToken: string | null = null;
  #streamId: string | null = null;
  /** Set by `start`, with the format: 1 s of audio, whole samples. */
  #payloadRule: MediaPayloadRule | null = null;
  #reorderer: ChunkReorderer | null = null;
  /** Set once an error was returned: the connection is over, and any further call says so again. */
  #failed: readonly StreamEvent[] | null = null;

  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    try {
      if (isBinary)
        throw new AppError('UNSUPPORTED_DATA', 'Telnyx media streaming messages must be text (JSON)');
      const { message, event } = parseEventBytes(data, TELNYX_MAX_MESSAGE_CHARS);
      // Most frequent first: media is ~100 messages/s per call with both tracks.
      switch (event) {
        case 'media':
          return this.#media(message);
        case 'start':
          return this.#start(message);
        case 'stop':
          return this.#stop(message);
        case 'connected':
          return this.#connected(message);
        case 'dtmf':
          return IGNORED_DTMF;
        case 'mark':
          return IGNORED_MARK;
        case 'error':
          // Telnyx reporting a problem with what the application sent it; earshot sends nothing.
          return IGNORED_ERROR;
        default:
          return [{ type: 'ignored', what: event.slice(0, MAX_REPORTED_EVENT_CHARS) }];
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err; // a bug here, not bad content
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err })]);
      return this.#failed;
    }
  }

  flush(): readonly StreamEvent[] {
    if (this.#failed !== null || this.#reorderer === null) return NOTHING;
    return this.#reorderer.flush();
  }

  #media(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.STREAMING) {
      throw invalidPayload(this.#state === State.STOPPED ? 'media after stop' : 'media before start');
    }
    checkStreamId(message['stream_id'], this.#streamId, STREAM_ID_MISMATCH);
    const media = objectField(message, 'media', 'media');
    const track = media['track'];
    let trackIndex: 0 | 1;
    if (track === 'inbound') trackIndex = 0;
    else if (track === 'outbound') trackIndex = 1;
    else throw invalidPayload('media.track must be inbound or outbound');
    const chunk = counterField(media, 'chunk', 'media.chunk');
    // Validated when present, not needed: chunks are ordered by their number.
    if (media['timestamp'] !== undefined) counterField(media, 'timestamp', 'media.timestamp');
    const payload = decodeMediaPayload(stringField(media, 'payload', 'media.payload'), this.#payloadRule!);
    return this.#reorderer!.push(trackIndex, chunk, payload);
  }

  #start(message: JsonObject): readonly StreamEvent[] {
    if (this.#state !== State.AWAITING_START) {
      throw invalidPayload(this.#state === State.STREAMING ? 'start received twice' : 'start after stop');
    }
    const start = objectField(message, 'start', 'start');
    const streamId = nullableStringField(message, 'stream_id', 'stream_id');
    const platformCallId = stringField(start, 'call_control_id', 'start.call_control_id');
    if (!isValidCallId(platformCallId)) {
      throw invalidPayload(`start.call_control_id must be ${CALL_ID_RULE}`);
    }
    const { codec, rateHz } = mediaFormat(objectField(start, 'media_format', 'start.media_format'));
    const { callId, token } = customParameters(start['custom_parameters']);
    // Telnyx sends `"from": null` for a withheld number.
    const from = nullableStringField(start, 'from', 'start.from');
    const to = nullableStringField(start, 'to', 'start.to');

    // Everything is valid: only now change state (a rejected message leaves the parser as it was).
    const format: WireFormat = Object.freeze({ encoding: codec.encoding, sampleRateHz: rateHz });
    this.#payloadRule = mediaPayloadRule({
      field: 'media.payload',
      maxBytes: Math.min(rateHz * codec.bytesPerSample, MAX_STREAM_PAYLOAD_BYTES),
      bytesPerSample: codec.bytesPerSample,
    });
    this.#streamId = streamId;
    this.#reorderer = new ChunkReorderer(TELNYX_REORDER_WINDOW_CHUNKS);
    this.#state = State.STREAMING;
    const event: StreamStart = Object.freeze({
      type: 'start',
      callId,
      platformCallId,
      credential: token ?? this.#connectedToken,
      participants: PARTICIPANTS,
      interleaved: false,
      format,
      from,
      to,
    });
    return Object.freeze([event]);
  }

  #stop(message: JsonObject): readonly StreamEvent[] {
    if (this.#state === State.STOPPED) throw invalidPayload('stop received twice');
    if (this.#state === State.AWAITING_START) {
      // Nothing was started, so nothing ends; a later start is refused.
      this.#state = State.STOPPED;
      return IGNORED_STOP_BEFORE_START;
    }
    checkStreamId(message['stream_id'], this.#streamId, STREAM_ID_MISMATCH);
    this.#state = State.STOPPED;
    // Audio still held for reordering comes first: it precedes the stop.
    const held = this.#reorderer!.flush();
    return held.length === 0 ? [END_CALL] : [...held, END_CALL];
  }

  #connected(message: JsonObject): readonly StreamEvent[] {
    // Telnyx repeats the stream auth token here ("connected.x-telnyx-streaming-auth-token"): read
    // both a top-level field and one inside a `connected` object, the two ways that can be meant.
    let token = message[TELNYX_STREAMING_AUTH_HEADER];
    const nested = message['connected'];
    if (token === undefined && isJsonObject(nested)) token = nested[TELNYX_STREAMING_AUTH_HEADER];
    if (token !== undefined && typeof token !== 'string') {
      throw invalidPayload('connected.x-telnyx-streaming-auth-token must be a string');
    }
    if (typeof token === 'string' && token.length > 0 && this.#state === State.AWAITING_START) {
      this.#connectedToken = token;
    }
    return IGNORED_CONNECTED;
  }
}

function mediaFormat(format: JsonObject): { codec: Codec; rateHz: number } {
  const name = stringField(format, 'encoding', 'start.media_format.encoding').toUpperCase();
  const codec = CODECS.get(name);
  if (codec === undefined) {
    throw new AppError(
      'UNSUPPORTED_DATA',
      REFUSED_CODECS.includes(name)
        ? `Telnyx codec ${name} is not supported: ${USE_SUPPORTED}`
        : `start.media_format.encoding is not a supported codec: ${USE_SUPPORTED}`,
    );
  }
  const rateHz = counterField(format, 'sample_rate', 'start.media_format.sample_rate');
  if (!codec.ratesHz.includes(rateHz)) throw invalidPayload(codec.rateRule);
  const channels = format['channels'];
  if (channels !== undefined && channels !== 1 && channels !== '1') {
    throw invalidPayload('start.media_format.channels must be 1');
  }
  return { codec, rateHz };
}

/**
 * `call_id` and `token` from `start.custom_parameters`. Telnyx delivers the parameters as an object
 * of names to values (its start example); Call Control takes them as `[{name, value}]`, and that
 * form is read too in case a sender passes it through as given.
 */
function customParameters(params: unknown): { callId: string | null; token: string | null } {
  let callId: unknown;
  let token: unknown;
  if (params === undefined || params === null) return { callId: null, token: null };
  if (Array.isArray(params)) {
    for (const entry of params) {
      if (!isJsonObject(entry)) continue;
      if (entry['name'] === 'call_id' && callId === undefined) callId = entry['value'];
      else if (entry['name'] === 'token' && token === undefined) token = entry['value'];
    }
  } else if (isJsonObject(params)) {
    callId = params['call_id'];
    token = params['token'];
  } else {
    throw invalidPayload('start.custom_parameters must be an object');
  }
  if (callId !== undefined) {
    if (typeof callId !== 'string' || !isValidCallId(callId)) {
      throw invalidPayload(`start.custom_parameters.call_id must be ${CALL_ID_RULE}`);
    }
  }
  if (token !== undefined && (typeof token !== 'string' || token.length === 0)) {
    throw invalidPayload('start.custom_parameters.token must be a non-empty string');
  }
  return { callId: (callId as string | undefined) ?? null, token: (token as string | undefined) ?? null };
}

/** One out-of-order chunk waiting for those before it. */
interface HeldChunk {
  readonly chunk: number;
  readonly payload: Buffer;
}

interface TrackQueue {
  readonly participant: string;
  started: boolean;
  /** The chunk number that may be released next. */
  next: number;
  /** Waiting chunks, ascending, at most `window` of them between calls. */
  readonly held: HeldChunk[];
}

/** Slots of the recent-chunk ring: 256 chunks = 5 s of both tracks. */
const RING_SLOTS = 256;
/**
 * A chunk this far behind the next expected one is not late but a counter that started again (a
 * restarted stream): the track starts over from it instead of dropping everything until it catches up.
 */
const RESTART_GAP_CHUNKS = 50;
/**
 * Chunks each track must have shown, with no number on both, to settle the shared-counter reading.
 * Under the per-track one both tracks count from 1 together, so their numbers meet long before.
 */
const SHARED_EVIDENCE_CHUNKS = 4;

const Counting = { UNDECIDED: 0, PER_TRACK: 1, SHARED: 2 } as const;
type Counting = (typeof Counting)[keyof typeof Counting];

/**
 * Puts each track's `media` back in chunk order. In order, a chunk is released at once. A chunk
 * ahead of the next expected one is held; held chunks are released as soon as the gap before them
 * fills, and when more than `window` are waiting the gap is given up (skipped) and the run after it
 * released. A chunk already released, held, or behind the next expected one is a duplicate or too
 * late: dropped (no event). `flush()` releases what is held, in order.
 *
 * Telnyx does not say whether `chunk` counts per track or across the connection. Per track is the
 * reading chosen (Plivo, the same design, documents it per track). Under the other reading one
 * track's numbers leave gaps that the other track's fill, and waiting for them would delay every
 * chunk by the whole window. So the numbers seen recently are kept, with their track, in a small
 * ring, and the data decides: a number seen on both tracks settles the per-track reading; both
 * tracks past their first few chunks with no such number settle the shared one, under which a gap
 * whose numbers were all seen on the other track is no gap. Until then gaps are waited for.
 */
class ChunkReorderer {
  readonly #window: number;
  readonly #tracks: readonly [TrackQueue, TrackQueue];
  readonly #ringChunk = new Float64Array(RING_SLOTS).fill(-1);
  /** 0: empty; else track index + 1. */
  readonly #ringTrack = new Uint8Array(RING_SLOTS);
  #counting: Counting = Counting.UNDECIDED;
  /** Chunks remembered per track while undecided (saturating at SHARED_EVIDENCE_CHUNKS). */
  readonly #seen = [0, 0];

  constructor(window: number) {
    this.#window = window;
    this.#tracks = [newQueue(TRACK_PARTICIPANT[0]), newQueue(TRACK_PARTICIPANT[1])];
  }

  push(track: 0 | 1, chunk: number, payload: Buffer): readonly StreamEvent[] {
    this.#remember(track, chunk);
    const queue = this.#tracks[track];
    if (!queue.started) {
      queue.started = true;
      // Counting starts at 1 (0 tolerated): a first chunk a little past it may have overtaken the
      // first ones, so wait for them; a higher one means the track joined later.
      queue.next = chunk <= this.#window + 1 ? Math.min(chunk, 1) : chunk;
    }
    let out: StreamEvent[] | null = null;
    if (chunk < queue.next) {
      if (queue.next - chunk <= RESTART_GAP_CHUNKS) return NOTHING; // a duplicate, or too late
      out = this.#releaseAll(queue, out);
      queue.next = chunk;
    }
    if (queue.held.length === 0) {
      // The common case, in order: no allocation beyond the event and its array.
      this.#skipOthers(queue, track, chunk);
      if (chunk === queue.next) {
        queue.next = chunk + 1;
        out = out ?? [];
        out.push({ type: 'audio', participant: queue.participant, payload });
        return this.#drainOther(track, out);
      }
      queue.held.push({ chunk, payload });
      return this.#drainOther(track, out);
    }
    let at = queue.held.length;
    while (at > 0 && queue.held[at - 1].chunk > chunk) at--;
    if (at > 0 && queue.held[at - 1].chunk === chunk) return out ?? NOTHING; // held already
    queue.held.splice(at, 0, { chunk, payload });
    out = this.#drain(queue, track, out);
    return this.#drainOther(track, out);
  }

  /** Everything held, each track in chunk order. */
  flush(): readonly StreamEvent[] {
    let out: StreamEvent[] | null = null;
    for (const queue of this.#tracks) out = this.#releaseAll(queue, out);
    return out ?? NOTHING;
  }

  #drain(queue: TrackQueue, track: 0 | 1, out: StreamEvent[] | null): StreamEvent[] | null {
    const held = queue.held;
    while (held.length > 0) {
      const first = held[0];
      this.#skipOthers(queue, track, first.chunk);
      if (first.chunk !== queue.next && held.length <= this.#window) break;
      // In order, or the gap before it outlived the window: release it (and give the gap up).
      held.shift();
      queue.next = first.chunk + 1;
      out = out ?? [];
      out.push({ type: 'audio', participant: queue.participant, payload: first.payload });
    }
    return out;
  }

  /** A chunk of one track may fill the other's gap (the shared-counter reading): release what it can. */
  #drainOther(track: 0 | 1, out: StreamEvent[] | null): readonly StreamEvent[] {
    if (this.#counting === Counting.SHARED) {
      const other = (track ^ 1) as 0 | 1;
      if (this.#tracks[other].held.length > 0) out = this.#drain(this.#tracks[other], other, out);
    }
    return out ?? NOTHING;
  }

  #releaseAll(queue: TrackQueue, out: StreamEvent[] | null): StreamEvent[] | null {
    for (const { chunk, payload } of queue.held) {
      out = out ?? [];
      out.push({ type: 'audio', participant: queue.participant, payload });
      queue.next = chunk + 1;
    }
    queue.held.length = 0;
    return out;
  }

  /** Moves `next` past numbers the other track used, up to `limit` (shared-counter reading only). */
  #skipOthers(queue: TrackQueue, track: 0 | 1, limit: number): void {
    if (this.#counting !== Counting.SHARED) return;
    const other = (track ^ 1) + 1;
    // Bounded: every number skipped is in the ring, which holds at most RING_SLOTS of them.
    while (queue.next < limit) {
      const slot = queue.next % RING_SLOTS;
      if (this.#ringTrack[slot] !== other || this.#ringChunk[slot] !== queue.next) return;
      queue.next++;
    }
  }

  #remember(track: 0 | 1, chunk: number): void {
    if (this.#counting === Counting.PER_TRACK) return; // settled: the ring is no longer read
    const slot = chunk % RING_SLOTS;
    const owner = this.#ringTrack[slot];
    if (owner !== 0 && owner !== track + 1 && this.#ringChunk[slot] === chunk) {
      this.#counting = Counting.PER_TRACK;
      return;
    }
    this.#ringChunk[slot] = chunk;
    this.#ringTrack[slot] = track + 1;
    if (this.#counting === Counting.UNDECIDED && this.#seen[track] < SHARED_EVIDENCE_CHUNKS) {
      this.#seen[track]++;
      if (this.#seen[0] === SHARED_EVIDENCE_CHUNKS && this.#seen[1] === SHARED_EVIDENCE_CHUNKS) {
        this.#counting = Counting.SHARED;
      }
    }
  }
}

function newQueue(participant: string): TrackQueue {
  return { participant, started: false, next: 0, held: [] };
}
