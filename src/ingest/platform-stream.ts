import type { AppError } from '../domain/app-error.js';

/**
 * The one shape of an ingest adapter (SPEC §4.5, docs/architecture.md "Ingest adapters"). A
 * platform is a pure parser — one instance per connection, a state machine from its start message
 * through its tracks and formats to audio and end events — plus one registration line
 * (src/ingest/platforms.ts) that binds it to a path, its credential rule and its call-id rule. The
 * parser does no I/O, keeps no timers and never throws on what a client sends: bad content comes
 * back as an `error` event, and the connection then ends with that error's close code (§4.3).
 * Everything else — authentication, creating or joining the call, decoding, resampling, mixing —
 * is the endpoint's (src/ws/platform-endpoint.ts), the same for every platform.
 */

/** How audio bytes are encoded on the wire. `pcm16` is little-endian; `pcm16be` network order (Telnyx L16, RTP). */
export type WireEncoding = 'mulaw' | 'alaw' | 'pcm16' | 'pcm16be';

export interface WireFormat {
  readonly encoding: WireEncoding;
  /** 8000 … 48000. */
  readonly sampleRateHz: number;
}

/** What the upgrade request carried, for parsers whose protocol puts settings there (e.g. Exotel's `?sample-rate=`). */
export interface Handshake {
  readonly query: URLSearchParams;
  /** Lower-case header names, as Node gives them. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * The stream has started: it names the call, may carry a credential, and says which participants
 * its audio feeds and in what format.
 */
export interface StreamStart {
  readonly type: 'start';
  /**
   * The call id the sender chose explicitly (a custom parameter `call_id`, a `call_id` header), or
   * null. It wins over `platformCallId` (SPEC §4.4).
   */
  readonly callId: string | null;
  /** The platform's own id of the call (Twilio CallSid, Telnyx call_control_id, …): the default call id. */
  readonly platformCallId: string;
  /**
   * A credential carried inside the protocol (a custom parameter `token`, Plivo's extra_headers,
   * an NCCO header), or null. Never log it.
   */
  readonly credential: string | null;
  /**
   * The participants this stream feeds. With `interleaved`, every audio event carries all of them,
   * one sample of each in turn (stereo: [left, right]); otherwise each audio event names one.
   */
  readonly participants: readonly string[];
  readonly interleaved: boolean;
  readonly format: WireFormat;
  /** The numbers, where the platform's start message carries them. */
  readonly from: string | null;
  readonly to: string | null;
}

/** Audio of one participant (or of all, interleaved), whole samples, in the start's format. */
export interface StreamAudio {
  readonly type: 'audio';
  /** The participant, or null when the stream is interleaved (then the payload holds all of them). */
  readonly participant: string | null;
  /** May be a view into a shared pool: use byteOffset/byteLength. Valid until the next parse. */
  readonly payload: Buffer;
}

/** The platform's stop: `call` completes the call, `participants` ends this stream's participants only. */
export interface StreamEnd {
  readonly type: 'end';
  readonly scope: 'call' | 'participants';
}

/** A message the protocol requires earshot to send back (AudioHook's `opened`, `pong`, `closed`). */
export interface StreamReply {
  readonly type: 'reply';
  readonly text: string;
}

/** Bad content: the connection ends with this error's close code and message (SPEC §4.3). */
export interface StreamError {
  readonly type: 'error';
  readonly error: AppError;
}

/** Well-formed and of no use to earshot (DTMF, marks, unknown events): accepted and dropped. */
export interface StreamIgnored {
  readonly type: 'ignored';
  /** What it was, cut to 32 characters, for logs only. */
  readonly what: string;
}

export type StreamEvent = StreamStart | StreamAudio | StreamEnd | StreamReply | StreamError | StreamIgnored;

/** One connection's parser. */
export interface PlatformParser {
  /**
   * One WebSocket message as `ws` delivers it (text is valid UTF-8). Returns what it means, in
   * order: usually one event, none while it holds audio to put back in order, several when a held
   * run is released. Never throws on content; after an `error` event the connection is over and
   * the parser is not called again.
   */
  parse(data: Buffer, isBinary: boolean): readonly StreamEvent[];
  /** The socket closed: whatever the parser still holds (audio waiting to be reordered), in order. */
  flush(): readonly StreamEvent[];
}

/** Most bytes of one audio payload any platform may send: 1 s of 48 kHz 16-bit stereo. */
export const MAX_STREAM_PAYLOAD_BYTES = 192_000;
