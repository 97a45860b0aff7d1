import { AppError } from '../domain/app-error.js';
import { invalidPayload } from './json-field.js';
import { base64LengthOf, decodeStrictBase64 } from './strict-base64.js';

/**
 * The checks every platform's audio payload passes, one rule per stream: a base64 `media.payload`
 * inside a JSON message (Twilio, Telnyx, Plivo, Exotel) or a binary message's bytes (Vonage,
 * AudioHook) must be non-empty, at most `maxBytes` (1 s of the stream's audio) and whole samples.
 *
 * A parser builds its rule once, when its start message fixes the format ({@link mediaPayloadRule}),
 * and hands the same object to every call: the path taken ~100 times a second per call allocates
 * nothing but the decoded bytes, and builds no string unless it refuses.
 */
export interface MediaPayloadRule {
  /** What the messages call the payload: `media.payload`, `audio message`. */
  readonly field: string;
  readonly maxBytes: number;
  /** The base64 length of `maxBytes`: longer text is refused before it is decoded. */
  readonly maxChars: number;
  /** Bytes of one sample of every channel (μ-law mono 1, L16 mono or μ-law stereo 2). */
  readonly bytesPerSample: number;
  /** The MESSAGE_TOO_BIG message. */
  readonly tooBig: string;
  /** The INVALID_PAYLOAD message for a byte count that is not whole samples. */
  readonly partialSample: string;
}

export interface MediaPayloadOptions {
  readonly field: string;
  readonly maxBytes: number;
  readonly bytesPerSample: number;
  /** Default: `<field> exceeds <maxBytes> bytes (1 s of audio)`. */
  readonly tooBig?: string;
  /** Default: `<field> must hold whole 16-bit samples (an even byte count)`. */
  readonly partialSample?: string;
}

/** The rule for one stream's payloads (see {@link MediaPayloadRule}); build it once per start. */
export function mediaPayloadRule(options: MediaPayloadOptions): MediaPayloadRule {
  const { field, maxBytes, bytesPerSample } = options;
  return Object.freeze({
    field,
    maxBytes,
    maxChars: base64LengthOf(maxBytes),
    bytesPerSample,
    tooBig: options.tooBig ?? `${field} exceeds ${maxBytes} bytes (1 s of audio)`,
    partialSample: options.partialSample ?? `${field} must hold whole 16-bit samples (an even byte count)`,
  });
}

/**
 * The bytes of a base64 payload, checked against `rule`. The text's length is checked before
 * decoding, so that a grossly oversized payload costs nothing more; the exact check follows decoding
 * (`maxBytes + 1` bytes may still encode to `maxChars` characters).
 * @throws AppError `MESSAGE_TOO_BIG` (over `maxBytes`), or `INVALID_PAYLOAD` (`<field> is not valid
 * base64` — strict, see strict-base64.ts —, `<field> is empty`, or not whole samples).
 */
export function decodeMediaPayload(text: string, rule: MediaPayloadRule): Buffer {
  if (text.length > rule.maxChars) throw new AppError('MESSAGE_TOO_BIG', rule.tooBig);
  const payload = decodeStrictBase64(text);
  if (payload === undefined) throw invalidPayload(`${rule.field} is not valid base64`);
  return checkMediaBytes(payload, rule);
}

/**
 * `payload`, once it is checked against `rule`: non-empty, at most `maxBytes`, whole samples. The
 * bytes are not copied: every bit pattern is a valid sample.
 * @throws AppError `INVALID_PAYLOAD` (`<field> is empty`, not whole samples), or `MESSAGE_TOO_BIG`.
 */
export function checkMediaBytes(payload: Buffer, rule: MediaPayloadRule): Buffer {
  const length = payload.length;
  if (length === 0) throw invalidPayload(`${rule.field} is empty`);
  if (length > rule.maxBytes) throw new AppError('MESSAGE_TOO_BIG', rule.tooBig);
  if (length % rule.bytesPerSample !== 0) throw invalidPayload(rule.partialSample);
  return payload;
}
