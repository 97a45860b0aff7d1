import type { Handshake, PlatformParser } from './platform-stream.js';
import { createTwilioParser } from './twilio.js';
import { TWILIO_MAX_MESSAGE_CHARS } from './twilio-media-stream.js';

/**
 * Every platform earshot hears, one line each (SPEC §4.5): the path its stream connects to, its
 * parser, where its credential may travel besides `?token=` and the start message, and the largest
 * message it may send. Everything else — credentials, the call id rule (an explicit `call_id` wins
 * over the platform's own id), creating calls, decoding, metrics — is the same for all of them
 * (src/ws/platform-endpoint.ts). The name is the metrics label and the calls' `metadata.source`.
 */
export interface PlatformBinding {
  readonly name: string;
  /** The WebSocket path, e.g. `/ws/telnyx`. */
  readonly path: string;
  readonly parser: (handshake: Handshake) => PlatformParser;
  /**
   * A credential the upgrade request carries in the platform's own way (a header), checked before
   * the upgrade like `?token=`; null when it has none there.
   */
  readonly handshakeCredential?: (handshake: Handshake) => string | null;
  /** The WebSocket server's maxPayload: bytes of the largest message the platform sends. */
  readonly maxMessageBytes: number;
}

export const PLATFORMS: readonly PlatformBinding[] = [
  // Twilio and SignalWire: JSON text, ≤ 64 Ki characters (of up to 4 UTF-8 bytes each).
  {
    name: 'twilio',
    path: '/ws/twilio',
    parser: createTwilioParser,
    maxMessageBytes: TWILIO_MAX_MESSAGE_CHARS * 4,
  },
];

export type PlatformName = (typeof PLATFORMS)[number]['name'];

const byPath = new Map(PLATFORMS.flatMap((p) => [[p.path, p] as const, [`${p.path}/`, p] as const]));
const byName = new Map(PLATFORMS.map((p) => [p.name, p] as const));

/** The platform served at this URL path (with or without a trailing slash). */
export function platformAtPath(path: string): PlatformBinding | undefined {
  return byPath.get(path);
}

export function platformNamed(name: string): PlatformBinding | undefined {
  return byName.get(name);
}
