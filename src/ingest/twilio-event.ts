/**
 * The contract of the Twilio Media Streams parser: what each Twilio message becomes once validated.
 * Shapes follow https://www.twilio.com/docs/voice/media-streams/websocket-messages; see also
 * `test/fixtures/twilio/README.md` for one example of every message.
 */

/**
 * Twilio's media format (μ-law, 8000 Hz, mono), and the linear PCM formats SignalWire's compatible
 * `<Stream codec="L16@16000h">` declares in the same field (16-bit little-endian, mono: see
 * docs/platforms/twilio.md for why that byte order).
 */
export const TWILIO_MEDIA_FORMAT = Object.freeze({
  encoding: 'audio/x-mulaw',
  sampleRateHz: 8000,
  channels: 1,
} as const);
export interface TwilioMediaFormat {
  readonly encoding: 'audio/x-mulaw' | 'audio/x-l16';
  /** 8000 for μ-law; 8000, 16000 or 24000 for L16. */
  readonly sampleRateHz: number;
  readonly channels: 1;
}

/** Which earshot participant each Twilio track feeds (SPEC 4.2). */
export const TWILIO_TRACK_PARTICIPANT = Object.freeze({ inbound: 'caller', outbound: 'agent' } as const);
export type TwilioTrack = keyof typeof TWILIO_TRACK_PARTICIPANT;
export type TwilioParticipant = (typeof TWILIO_TRACK_PARTICIPANT)[TwilioTrack];

/** `connected`: first message of every stream. */
export interface TwilioConnectedEvent {
  readonly type: 'connected';
  /** e.g. `Call`; empty when absent. */
  readonly protocol: string;
  /** e.g. `1.0.0`; empty when absent. */
  readonly version: string;
}

/** `start`: once per stream; names the earshot call and carries its ingest token. */
export interface TwilioStartEvent {
  readonly type: 'start';
  /** `customParameters.call_id`, already checked against the call id pattern; null when absent (the CallSid names the call). */
  readonly callId: string | null;
  /**
   * `customParameters.token`: the call's ingest token or an ingest key, still to be verified by the
   * caller; null when absent (it may be on the URL). Never log it.
   */
  readonly token: string | null;
  readonly streamSid: string;
  readonly callSid: string;
  /** Empty when absent. */
  readonly accountSid: string;
  /** Tracks Twilio announced, without duplicates, in its order. */
  readonly tracks: readonly TwilioTrack[];
  /** The participants those tracks feed, in the same order. */
  readonly participants: readonly TwilioParticipant[];
  readonly mediaFormat: TwilioMediaFormat;
  /** The other string custom parameters (`token` removed so that logging this object is safe). */
  readonly customParameters: Readonly<Record<string, string>>;
}

/** `media`: about 20 ms (160 bytes) of one track's μ-law audio (or L16, as `start.mediaFormat` says). */
export interface TwilioMediaEvent {
  readonly type: 'media';
  readonly track: TwilioTrack;
  readonly participant: TwilioParticipant;
  /** Twilio's chunk counter (starts at 1). */
  readonly chunk: number;
  /** Presentation time of the payload, ms since the stream started. */
  readonly timestampMs: number;
  /**
   * The decoded audio bytes (non-empty, at most 1 s). Freshly decoded for this message, but it may
   * be a view into Node's shared allocation pool: use `byteOffset`/`byteLength`, not `.buffer`.
   */
  readonly payload: Buffer;
}

/** `mark`: a bidirectional stream's echo of a mark the server sent. */
export interface TwilioMarkEvent {
  readonly type: 'mark';
  readonly name: string;
}

/** `dtmf`: a key pressed by the caller. */
export interface TwilioDtmfEvent {
  readonly type: 'dtmf';
  /** Twilio sends `inbound_track`; empty when absent. */
  readonly track: string;
  readonly digit: string;
}

/** `stop`: the stream ended (earshot then completes the call). */
export interface TwilioStopEvent {
  readonly type: 'stop';
  /** Empty when absent. */
  readonly callSid: string;
  /** Empty when absent. */
  readonly accountSid: string;
}

/** A well-formed message with an event this parser does not know; ignored for forward compatibility. */
export interface TwilioIgnoredEvent {
  readonly type: 'ignored';
  /** The unknown event name, cut to 32 characters (for logs; never trusted). */
  readonly event: string;
}

/** Everything {@link TwilioMediaStreamParser} can return. */
export type TwilioEvent =
  | TwilioConnectedEvent
  | TwilioStartEvent
  | TwilioMediaEvent
  | TwilioMarkEvent
  | TwilioDtmfEvent
  | TwilioStopEvent
  | TwilioIgnoredEvent;
