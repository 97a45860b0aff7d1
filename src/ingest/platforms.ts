import { ASTERISK_MAX_MESSAGE_BYTES, asteriskHandshakeCredential, createAsteriskParser } from './asterisk.js';
import { AUDIOHOOK_HEADER, AUDIOHOOK_MAX_MESSAGE_BYTES, createAudioHookParser } from './audiohook.js';
import { createAudioSocketParser } from './audiosocket.js';
import { createExotelParser, EXOTEL_MAX_MESSAGE_BYTES, exotelHandshakeCredential } from './exotel.js';
import type { Handshake, PlatformParser } from './platform-stream.js';
import { createPlivoParser, PLIVO_MAX_MESSAGE_CHARS } from './plivo.js';
import { createTelnyxParser, TELNYX_MAX_MESSAGE_CHARS, telnyxHandshakeCredential } from './telnyx.js';
import { createTwilioParser } from './twilio.js';
import { TWILIO_MAX_MESSAGE_CHARS } from './twilio-media-stream.js';
import { createVonageParser, VONAGE_MAX_MESSAGE_BYTES, vonageHandshakeCredential } from './vonage.js';

/**
 * Every platform earshot hears, one line each (SPEC §4.5): the path its stream connects to, its
 * parser, where its credential may travel besides `?token=` and the start message, and the largest
 * message it may send. Everything else — credentials, the call id rule (an explicit `call_id` wins
 * over the platform's own id), creating calls, decoding, metrics — is the same for all of them
 * (src/ws/platform-endpoint.ts). The name is the metrics label and the calls' `metadata.source`.
 */
export interface PlatformBinding {
  readonly name: string;
  /** The WebSocket path, e.g. `/ws/telnyx`; null for a platform on a TCP port of its own (AudioSocket). */
  readonly path: string | null;
  readonly parser: (handshake: Handshake) => PlatformParser;
  /**
   * A credential the upgrade request carries in the platform's own way (a header), checked before
   * the upgrade like `?token=`; null when it has none there.
   */
  readonly handshakeCredential?: (handshake: Handshake) => string | null;
  /** The WebSocket server's maxPayload: bytes of the largest message the platform sends. */
  readonly maxMessageBytes: number;
  /**
   * The upgrade is signed (RFC 9421, Genesys AudioHook): with an ingest key created with a client
   * secret, a missing, bad, stale or replayed signature is refused before the upgrade.
   */
  readonly signedUpgrade?: boolean;
}

export const PLATFORMS: readonly PlatformBinding[] = [
  // Twilio and SignalWire: JSON text, ≤ 64 Ki characters (of up to 4 UTF-8 bytes each).
  {
    name: 'twilio',
    path: '/ws/twilio',
    parser: createTwilioParser,
    maxMessageBytes: TWILIO_MAX_MESSAGE_CHARS * 4,
  },
  // The other JSON platforms: the same bound.
  {
    name: 'telnyx',
    path: '/ws/telnyx',
    parser: createTelnyxParser,
    handshakeCredential: telnyxHandshakeCredential,
    maxMessageBytes: TELNYX_MAX_MESSAGE_CHARS * 4,
  },
  {
    name: 'plivo',
    path: '/ws/plivo',
    parser: createPlivoParser,
    maxMessageBytes: PLIVO_MAX_MESSAGE_CHARS * 4,
  },
  {
    name: 'exotel',
    path: '/ws/exotel',
    parser: createExotelParser,
    handshakeCredential: exotelHandshakeCredential,
    maxMessageBytes: EXOTEL_MAX_MESSAGE_BYTES,
  },
  // A JSON text first, then binary L16.
  {
    name: 'vonage',
    path: '/ws/vonage',
    parser: createVonageParser,
    handshakeCredential: vonageHandshakeCredential,
    maxMessageBytes: VONAGE_MAX_MESSAGE_BYTES,
  },
  // A protocol with its own handshake, signed upgrades and binary stereo μ-law.
  {
    name: 'audiohook',
    path: '/ws/audiohook',
    parser: createAudioHookParser,
    handshakeCredential: (h) => singleHeader(h.headers[AUDIOHOOK_HEADER.apiKey]),
    maxMessageBytes: AUDIOHOOK_MAX_MESSAGE_BYTES,
    signedUpgrade: true,
  },
  // Asterisk's WebSocket channel (chan_websocket, ARI externalMedia): MEDIA_START, then raw codec audio.
  {
    name: 'asterisk',
    path: '/ws/asterisk',
    parser: createAsteriskParser,
    handshakeCredential: asteriskHandshakeCredential,
    maxMessageBytes: ASTERISK_MAX_MESSAGE_BYTES,
  },
  // Asterisk AudioSocket: TLV frames on a TCP port of its own (EARSHOT_AUDIOSOCKET_LISTEN).
  { name: 'audiosocket', path: null, parser: createAudioSocketParser, maxMessageBytes: 0 },
];

/** The platforms served over WebSockets, each at its path. */
export const WEBSOCKET_PLATFORMS = PLATFORMS.filter(
  (p): p is PlatformBinding & { readonly path: string } => p.path !== null,
);

function singleHeader(value: string | string[] | undefined): string | null {
  const one = Array.isArray(value) ? value[0] : value;
  return one === undefined || one.trim() === '' ? null : one.trim();
}

export type PlatformName = (typeof PLATFORMS)[number]['name'];

const byPath = new Map(
  WEBSOCKET_PLATFORMS.flatMap((p) => [[p.path, p] as const, [`${p.path}/`, p] as const]),
);
const byName = new Map(PLATFORMS.map((p) => [p.name, p] as const));

/** The platform served at this URL path (with or without a trailing slash). */
export function platformAtPath(path: string): PlatformBinding | undefined {
  return byPath.get(path);
}

export function platformNamed(name: string): PlatformBinding | undefined {
  return byName.get(name);
}
