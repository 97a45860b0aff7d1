import { AppError } from '../domain/app-error.js';
import { invalidPayload } from './json-field.js';
import type { PlatformParser, StreamEvent, StreamStart, WireFormat } from './platform-stream.js';

/**
 * Asterisk AudioSocket (SPEC §4.6) as an ingest parser. Asterisk (the `AudioSocket()` dialplan
 * application or the `AudioSocket/host:port/uuid` channel driver) connects over plain TCP and
 * writes type-length-value frames: 1 byte kind, 2 bytes big-endian payload length, the payload.
 * TCP keeps no message boundaries, so `parse` takes any slice of the byte stream — a frame split at
 * any byte, several frames in one chunk — and returns the events of the frames it completes. The
 * kinds, the sources and the readings chosen where they disagree:
 * test/fixtures/platforms/audiosocket/README.md.
 *
 * - `0x01` UUID (16 raw bytes, Asterisk's first frame): its canonical lower-case 8-4-4-4-12 form is
 *   the `platformCallId` (the default call id). It is held, not announced: the format is only known
 *   from the first audio frame's kind, so `start` (participant `caller`, pcm16 little-endian at that
 *   kind's rate) comes with the first audio frame. {@link AudioSocketParser.uuid} tells the server
 *   that the UUID arrived (for {@link AUDIOSOCKET_UUID_TIMEOUT_MS}).
 * - `0x10` slin 8 kHz, `0x11`–`0x16` slin12/16/24/32/44/48 → `audio`. Every audio frame of a stream
 *   must be of the first one's kind: the shape has no format change (a second `start` is not
 *   allowed), and Asterisk fixes the channel's format for the stream's life, so another rate is
 *   refused (INVALID_PAYLOAD). `0x17`/`0x18` (slin96/slin192) are beyond the shape's 48 kHz: refused
 *   (UNSUPPORTED_DATA). Audio before the UUID: INVALID_PAYLOAD. An empty audio frame: `ignored`.
 * - `0x00` hang-up → `end` (scope `participants`); `0xff` error → `end` when its code says the
 *   calling party hung up (bit `0x01` of the first code byte, Asterisk's bit-packed codes),
 *   otherwise `ignored` with the code in hex. Frames after the end are checked and `ignored`.
 * - `0x03` DTMF and `0x02` silence (CyCoreSystems' Go library only) → `ignored`.
 * - Anything else: INVALID_PAYLOAD, at the kind byte. A declared length over what its kind allows:
 *   INVALID_PAYLOAD at the length bytes, without waiting for the payload. An error ends this
 *   connection only, and is answered again to any later call.
 *
 * Memory: a 3-byte header, a 16-byte buffer for the UUID and error codes, and one audio payload
 * (≤ 64 KiB, the most a 16-bit length can declare) while a frame is split across chunks. A frame
 * within one chunk is passed on as a view of that chunk, without copying.
 */

/** How long the TCP server waits for the UUID frame before it closes the connection. Asterisk writes it right after connecting. */
export const AUDIOSOCKET_UUID_TIMEOUT_MS = 5000;

/** The frame kinds (include/asterisk/res_audiosocket.h `enum ast_audiosocket_msg_kind`, plus the Go library's silence). */
export const AudioSocketKind = {
  HANGUP: 0x00,
  UUID: 0x01,
  /** In CyCoreSystems/audiosocket (Go) only; not in Asterisk's source. */
  SILENCE: 0x02,
  DTMF: 0x03,
  SLIN: 0x10,
  SLIN12: 0x11,
  SLIN16: 0x12,
  SLIN24: 0x13,
  SLIN32: 0x14,
  SLIN44: 0x15,
  SLIN48: 0x16,
  SLIN96: 0x17,
  SLIN192: 0x18,
  ERROR: 0xff,
} as const;

/** The sample rate of each accepted audio kind (16-bit signed linear mono, host order: little-endian). */
export const AUDIOSOCKET_AUDIO_RATES_HZ: ReadonlyMap<number, number> = new Map([
  [AudioSocketKind.SLIN, 8000],
  [AudioSocketKind.SLIN12, 12000],
  [AudioSocketKind.SLIN16, 16000],
  [AudioSocketKind.SLIN24, 24000],
  [AudioSocketKind.SLIN32, 32000],
  [AudioSocketKind.SLIN44, 44100],
  [AudioSocketKind.SLIN48, 48000],
]);

/** Bytes of a frame header: kind, then the payload length (big-endian). */
export const AUDIOSOCKET_HEADER_BYTES = 3;
/** Most payload bytes of a hang-up, DTMF or error frame (Asterisk: 0, 1 and 0–1). */
export const AUDIOSOCKET_MAX_CONTROL_BYTES = 16;
/** Most payload bytes of a silence frame (1 s of slin 8 kHz; its payload is not defined anywhere). */
const MAX_SILENCE_BYTES = 16_000;
const UUID_BYTES = 16;
const MAX_UINT16 = 0xffff;

/** One frame's bytes: the header, then the payload. The encoder the tests and the fixture use. */
export function encodeAudioSocketFrame(kind: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) throw new RangeError('kind must be a byte');
  if (payload.length > MAX_UINT16) throw new RangeError('payload longer than 65535 bytes');
  const frame = Buffer.allocUnsafe(AUDIOSOCKET_HEADER_BYTES + payload.length);
  frame[0] = kind;
  frame.writeUInt16BE(payload.length, 1);
  frame.set(payload, AUDIOSOCKET_HEADER_BYTES);
  return frame;
}

/** The UUID frame for a canonical UUID string (any case, with dashes). */
export function encodeAudioSocketUuid(uuid: string): Buffer {
  const hex = uuid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError('not a UUID');
  return encodeAudioSocketFrame(AudioSocketKind.UUID, Buffer.from(hex, 'hex'));
}

/** One connection's parser, with what the TCP server reads besides events. */
export interface AudioSocketParser extends PlatformParser {
  /** The UUID once its frame arrived (canonical lower case), else null: the server's timeout stops on it. */
  readonly uuid: string | null;
}

/** A parser for one AudioSocket TCP connection. */
export function createAudioSocketParser(): AudioSocketParser {
  return new AudioSocketStreamParser();
}

const NOTHING: readonly StreamEvent[] = Object.freeze([]);
const PARTICIPANT = 'caller';
const PARTICIPANTS: readonly string[] = Object.freeze([PARTICIPANT]);

function ignoredEvent(what: string): StreamEvent {
  return Object.freeze({ type: 'ignored', what });
}
const IGNORED_DTMF = ignoredEvent('dtmf');
const IGNORED_SILENCE = ignoredEvent('silence');
const IGNORED_EMPTY_AUDIO = ignoredEvent('empty audio');
const IGNORED_HANGUP_BEFORE_UUID = ignoredEvent('hang-up before uuid');
const IGNORED_HANGUP_BEFORE_AUDIO = ignoredEvent('hang-up before audio');
const IGNORED_AFTER_END = ignoredEvent('frame after end');
const END: StreamEvent = Object.freeze({ type: 'end', scope: 'participants' });
/** Bit of Asterisk's bit-packed error code: the calling party hung up. */
const ERROR_HANGUP_BIT = 0x01;
/** Error code bytes shown in an `ignored` event's `what` (≤ 32 characters: "error 0x" + 16 hex). */
const MAX_REPORTED_CODE_BYTES = 8;

const Phase = { HEADER: 0, PAYLOAD: 1 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

const State = { AWAITING_UUID: 0, AWAITING_AUDIO: 1, STREAMING: 2, ENDED: 3 } as const;
type State = (typeof State)[keyof typeof State];

/** Where a frame's payload goes while it arrives. */
const Sink = { AUDIO: 0, SMALL: 1, SKIP: 2 } as const;
type Sink = (typeof Sink)[keyof typeof Sink];

class AudioSocketStreamParser implements AudioSocketParser {
  #phase: Phase = Phase.HEADER;
  #state: State = State.AWAITING_UUID;
  #uuid: string | null = null;
  /** The stream's audio kind, fixed by its first audio frame (-1 before). */
  #audioKind = -1;
  /** Header bytes received of the frame in progress (0–2 between calls). */
  #headerFill = 0;
  #kind = 0;
  #length = 0;
  #sink: Sink = Sink.SKIP;
  /** Payload bytes of the frame in progress received so far. */
  #payloadFill = 0;
  /** An audio payload split across chunks, allocated for that frame only (it leaves as the event's payload). */
  #partial: Buffer | null = null;
  /** The UUID or an error code, as they arrive. */
  readonly #small = Buffer.alloc(AUDIOSOCKET_MAX_CONTROL_BYTES);
  #failed: readonly StreamEvent[] | null = null;

  get uuid(): string | null {
    return this.#uuid;
  }

  /** `isBinary` is not read: a TCP stream is bytes. */
  parse(data: Buffer, _isBinary: boolean): readonly StreamEvent[] {
    if (this.#failed !== null) return this.#failed;
    let events: StreamEvent[] | null = null;
    try {
      let offset = 0;
      const end = data.length;
      while (offset < end) {
        if (this.#phase === Phase.HEADER) {
          const byte = data[offset++];
          if (this.#headerFill === 0) {
            this.#kind = byte;
            this.#checkKind(byte);
            this.#headerFill = 1;
            continue;
          }
          if (this.#headerFill === 1) {
            this.#length = byte << 8;
            this.#headerFill = 2;
            continue;
          }
          this.#length |= byte;
          this.#headerFill = 0;
          this.#checkLength();
          if (this.#length === 0) {
            events = this.#complete(null, events);
            continue;
          }
          this.#phase = Phase.PAYLOAD;
          this.#payloadFill = 0;
          continue;
        }
        // PAYLOAD
        const need = this.#length - this.#payloadFill;
        const take = Math.min(need, end - offset);
        let payload: Buffer | null = null;
        switch (this.#sink) {
          case Sink.AUDIO:
            if (this.#payloadFill === 0 && take === need) {
              payload = data.subarray(offset, offset + take); // whole in this chunk: a view
            } else {
              this.#partial ??= Buffer.allocUnsafe(this.#length);
              data.copy(this.#partial, this.#payloadFill, offset, offset + take);
              if (take === need) {
                payload = this.#partial;
                this.#partial = null;
              }
            }
            break;
          case Sink.SMALL:
            data.copy(this.#small, this.#payloadFill, offset, offset + take);
            break;
          default:
            break;
        }
        offset += take;
        this.#payloadFill += take;
        if (take === need) {
          this.#phase = Phase.HEADER;
          events = this.#complete(payload, events);
        }
      }
    } catch (err) {
      if (!(err instanceof AppError)) throw err; // a bug here, not bad content
      // An error ends the answer alone: what this chunk completed before it is dropped with the connection.
      this.#partial = null;
      this.#failed = Object.freeze([Object.freeze({ type: 'error', error: err })]);
      return this.#failed;
    }
    return events ?? NOTHING;
  }

  /** The socket closed. A frame still incomplete is dropped: it has no events (the close itself ends the participant). */
  flush(): readonly StreamEvent[] {
    this.#partial = null;
    return NOTHING;
  }

  /** The kind byte, refused at once when it is unknown or not allowed now. */
  #checkKind(kind: number): void {
    switch (kind) {
      case AudioSocketKind.HANGUP:
      case AudioSocketKind.DTMF:
      case AudioSocketKind.SILENCE:
      case AudioSocketKind.ERROR:
        return;
      case AudioSocketKind.UUID:
        if (this.#state === State.AWAITING_UUID || this.#state === State.ENDED) return;
        throw invalidPayload('AudioSocket uuid received twice');
      case AudioSocketKind.SLIN96:
      case AudioSocketKind.SLIN192:
        throw new AppError(
          'UNSUPPORTED_DATA',
          'AudioSocket slin96 and slin192 are not supported: use up to slin48',
        );
      default:
        if (!AUDIOSOCKET_AUDIO_RATES_HZ.has(kind)) throw invalidPayload('unknown AudioSocket frame kind');
        if (this.#state === State.ENDED) return;
        if (this.#state === State.AWAITING_UUID) throw invalidPayload('audio before the uuid frame');
        if (this.#audioKind !== -1 && kind !== this.#audioKind) {
          throw invalidPayload('AudioSocket audio rate changed mid-stream');
        }
    }
  }

  /** The declared length, refused at once when the kind does not allow it; chooses where the payload goes. */
  #checkLength(): void {
    const length = this.#length;
    switch (this.#kind) {
      case AudioSocketKind.UUID:
        // Exactly 16 even after the end (then ignored): a UUID of another length is no UUID frame.
        if (length !== UUID_BYTES) throw invalidPayload('AudioSocket uuid frame must hold 16 bytes');
        this.#sink = Sink.SMALL;
        return;
      case AudioSocketKind.ERROR:
        if (length > AUDIOSOCKET_MAX_CONTROL_BYTES) throw invalidPayload('AudioSocket error frame too long');
        this.#sink = Sink.SMALL;
        return;
      case AudioSocketKind.HANGUP:
        if (length > AUDIOSOCKET_MAX_CONTROL_BYTES)
          throw invalidPayload('AudioSocket hang-up frame too long');
        this.#sink = Sink.SKIP;
        return;
      case AudioSocketKind.DTMF:
        if (length > AUDIOSOCKET_MAX_CONTROL_BYTES) throw invalidPayload('AudioSocket dtmf frame too long');
        this.#sink = Sink.SKIP;
        return;
      case AudioSocketKind.SILENCE:
        if (length > MAX_SILENCE_BYTES) throw invalidPayload('AudioSocket silence frame too long');
        this.#sink = Sink.SKIP;
        return;
      default: {
        // Audio (the kind byte was checked): whole samples, at most 1 s.
        const rateHz = AUDIOSOCKET_AUDIO_RATES_HZ.get(this.#kind)!;
        if (length > Math.min(rateHz * 2, MAX_UINT16))
          throw invalidPayload('AudioSocket audio frame longer than 1 s');
        if (length % 2 !== 0) throw invalidPayload('AudioSocket audio frame must hold whole 16-bit samples');
        this.#sink = this.#state === State.ENDED ? Sink.SKIP : Sink.AUDIO;
      }
    }
  }

  /**
   * A frame is complete (`payload`: the audio, when it is audio and not empty): its events are
   * appended to `out` (created on the first), which is returned.
   */
  #complete(payload: Buffer | null, out: StreamEvent[] | null): StreamEvent[] | null {
    const kind = this.#kind;
    switch (kind) {
      case AudioSocketKind.UUID:
        if (this.#state !== State.AWAITING_UUID) return push(out, IGNORED_AFTER_END);
        this.#uuid = formatUuid(this.#small);
        this.#state = State.AWAITING_AUDIO;
        return out;
      case AudioSocketKind.DTMF:
        return push(out, IGNORED_DTMF);
      case AudioSocketKind.SILENCE:
        return push(out, IGNORED_SILENCE);
      case AudioSocketKind.HANGUP:
        return push(out, this.#end());
      case AudioSocketKind.ERROR: {
        const codes = Math.min(this.#length, MAX_REPORTED_CODE_BYTES);
        if (codes > 0 && (this.#small[0] & ERROR_HANGUP_BIT) !== 0) return push(out, this.#end());
        return push(
          out,
          ignoredEvent(codes === 0 ? 'error' : `error 0x${this.#small.toString('hex', 0, codes)}`),
        );
      }
      default:
        break;
    }
    // Audio.
    if (this.#state === State.ENDED) return push(out, IGNORED_AFTER_END);
    if (payload === null) return push(out, IGNORED_EMPTY_AUDIO);
    const event: StreamEvent = { type: 'audio', participant: PARTICIPANT, payload };
    if (this.#state === State.AWAITING_AUDIO) {
      this.#audioKind = kind;
      this.#state = State.STREAMING;
      out = push(out, this.#start(AUDIOSOCKET_AUDIO_RATES_HZ.get(kind)!));
    }
    return push(out, event);
  }

  #start(sampleRateHz: number): StreamStart {
    const format: WireFormat = Object.freeze({ encoding: 'pcm16', sampleRateHz });
    return Object.freeze({
      type: 'start',
      callId: null,
      platformCallId: this.#uuid!,
      credential: null,
      participants: PARTICIPANTS,
      interleaved: false,
      format,
      from: null,
      to: null,
    });
  }

  /** A hang-up (or an error saying the caller hung up): the first ends the participant; later ones are ignored. */
  #end(): StreamEvent {
    const state = this.#state;
    this.#state = State.ENDED;
    switch (state) {
      case State.STREAMING:
        return END;
      case State.AWAITING_UUID:
        return IGNORED_HANGUP_BEFORE_UUID;
      case State.AWAITING_AUDIO:
        return IGNORED_HANGUP_BEFORE_AUDIO;
      default:
        return IGNORED_AFTER_END;
    }
  }
}

function push(out: StreamEvent[] | null, event: StreamEvent): StreamEvent[] {
  if (out === null) return [event];
  out.push(event);
  return out;
}

/** 16 bytes as the canonical lower-case 8-4-4-4-12 UUID string. */
function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex', 0, UUID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
