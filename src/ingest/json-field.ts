import { AppError } from '../domain/app-error.js';

/**
 * Readers for fields of a parsed, untrusted JSON message. Each takes the full dotted `path` of the
 * field as a literal so that the error message can name it without building strings on the happy
 * path. Every failure is an `INVALID_PAYLOAD` AppError whose message names the field but never
 * echoes the client's value (it becomes a close reason: short, and nothing reflected back).
 */

/** A parsed JSON object whose fields are not yet trusted. */
export type JsonObject = { readonly [key: string]: unknown };

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An `INVALID_PAYLOAD` error with a client-safe message. */
export function invalidPayload(message: string): AppError {
  return new AppError('INVALID_PAYLOAD', message);
}

/** The object at `obj[key]`; throws INVALID_PAYLOAD if it is missing or not an object. */
export function objectField(obj: JsonObject, key: string, path: string): JsonObject {
  const value = obj[key];
  if (isJsonObject(value)) return value;
  throw invalidPayload(value === undefined ? `${path} is required` : `${path} must be an object`);
}

/** The string at `obj[key]`; throws INVALID_PAYLOAD if it is missing or not a string. */
export function stringField(obj: JsonObject, key: string, path: string): string {
  const value = obj[key];
  if (typeof value === 'string') return value;
  throw invalidPayload(value === undefined ? `${path} is required` : `${path} must be a string`);
}

/** The string at `obj[key]`, or `fallback` when absent; throws INVALID_PAYLOAD if it is not a string. */
export function optionalStringField(obj: JsonObject, key: string, path: string, fallback = ''): string {
  const value = obj[key];
  if (value === undefined) return fallback;
  if (typeof value === 'string') return value;
  throw invalidPayload(`${path} must be a string`);
}

/**
 * The string at `obj[key]`, or null when it is absent or null (senders write `"from": null` for a
 * withheld number); throws INVALID_PAYLOAD if it is anything else.
 */
export function nullableStringField(obj: JsonObject, key: string, path: string): string | null {
  return nullableString(obj[key], path);
}

/** {@link nullableStringField} for a value already read (e.g. under either of two names). */
export function nullableString(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw invalidPayload(`${path} must be a string`);
}

/**
 * Checks the stream id a later message repeats (`value`, as read from it) against the one its start
 * announced (`expected`, null when it announced none). Absent is fine (not every sender repeats it);
 * a different one is another stream: INVALID_PAYLOAD with `mismatch`, a literal. No allocation: it
 * runs on every media message.
 */
export function checkStreamId(value: unknown, expected: string | null, mismatch: string): void {
  if (value !== undefined && expected !== null && value !== expected) throw invalidPayload(mismatch);
}

// 15 digits keeps every accepted value a safe integer (< 2^53) without a BigInt detour.
const MAX_COUNTER_DIGITS = 15;

/**
 * A non-negative integer counter such as Twilio's `chunk` or `timestamp`. Twilio sends them as
 * decimal strings ("42"); plain JSON numbers are accepted too. Only ASCII digits are allowed —
 * no sign, spaces, exponent or hex, all of which `Number()` would silently accept.
 */
export function counterField(obj: JsonObject, key: string, path: string): number {
  const value = obj[key];
  if (typeof value === 'string') {
    const n = parseDecimalDigits(value);
    if (n >= 0) return n;
  } else if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
    return value;
  }
  throw invalidPayload(
    value === undefined ? `${path} is required` : `${path} must be a non-negative integer`,
  );
}

/** The value of a string of 1–15 ASCII digits, or -1 for anything else. A loop, not a regex: hot path. */
function parseDecimalDigits(text: string): number {
  const length = text.length;
  if (length === 0 || length > MAX_COUNTER_DIGITS) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * Parses a text message that must be a JSON object with a string `event` (every JSON platform
 * protocol earshot reads but AudioHook's and Vonage's is shaped so), refusing more than `maxChars`
 * before parsing anything.
 * @throws AppError `MESSAGE_TOO_BIG`, or `INVALID_PAYLOAD` (bad JSON, not an object, no `event`).
 */
export function parseEventMessage(text: string, maxChars: number): { message: JsonObject; event: string } {
  if (text.length > maxChars) throw textTooBig(maxChars);
  const message = parseJsonObject(text);
  return { message, event: stringField(message, 'event', 'event') };
}

/**
 * {@link parseEventMessage} for a text message as `ws` delivers it (UTF-8 bytes). A byte count above
 * 4 per character cannot be under the character limit: such a message is refused before decoding.
 */
export function parseEventBytes(data: Buffer, maxChars: number): { message: JsonObject; event: string } {
  if (data.length > maxChars * 4) throw textTooBig(maxChars);
  return parseEventMessage(data.toString('utf8'), maxChars);
}

/**
 * Parses a text message (UTF-8 bytes, as `ws` delivers it) that must be a JSON object, refusing more
 * than `maxBytes` before parsing anything. For protocols whose messages are not all shaped as
 * {@link parseEventMessage} reads them (AudioHook's `type`, Vonage's first message without `event`).
 * @throws AppError `MESSAGE_TOO_BIG`, or `INVALID_PAYLOAD` (bad JSON, not an object).
 */
export function parseObjectBytes(data: Buffer, maxBytes: number): JsonObject {
  if (data.length > maxBytes) throw new AppError('MESSAGE_TOO_BIG', `text message exceeds ${maxBytes} bytes`);
  return parseJsonObject(data.toString('utf8'));
}

function textTooBig(maxChars: number): AppError {
  return new AppError('MESSAGE_TOO_BIG', `text message exceeds ${maxChars} characters`);
}

function parseJsonObject(text: string): JsonObject {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    // The engine's message quotes the input: never reflect it back.
    throw invalidPayload('message is not valid JSON');
  }
  if (!isJsonObject(message)) throw invalidPayload('message must be a JSON object');
  return message;
}
