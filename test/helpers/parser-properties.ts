import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { expect } from 'vitest';
import { AppError } from '../../src/domain/app-error.js';
import { ErrorCode } from '../../src/domain/error-code.js';
import { isValidCallId } from '../../src/domain/ids.js';
import {
  MAX_STREAM_PAYLOAD_BYTES,
  type PlatformParser,
  type StreamEvent,
  type StreamStart,
  type WireEncoding,
} from '../../src/ingest/platform-stream.js';

/**
 * What every platform parser's tests check the same way (src/ingest/<platform>.test.ts): that its
 * events keep the promises of src/ingest/platform-stream.ts, and the fast-check properties that no
 * content makes it throw — random messages, its fixture session cut short and then fed anything, or
 * with one field replaced — and that audio survives any split into messages. What differs between
 * platforms (participants, formats, whether `end` or `reply` can come, close codes) is an
 * {@link EventRules}.
 */

/** One WebSocket message as `ws` delivers it. */
export interface WireMessage {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** What one platform's events may be; everything else in {@link expectWellFormed} holds for all. */
export interface EventRules {
  /** Who a start may name, each at most once; with `exactParticipants`, exactly these, in order. */
  readonly participants: readonly string[];
  readonly exactParticipants?: boolean;
  /** Whether a start may interleave its participants (then exactly when it names two). Default false. */
  readonly interleaves?: boolean;
  readonly encodings: readonly WireEncoding[];
  readonly ratesHz: readonly number[];
  /** Whether a start may carry a credential (false: the upgrade carries it). Default true. */
  readonly credential?: boolean;
  /** Whether a start may carry the numbers (false: the protocol's start has none). Default true. */
  readonly numbers?: boolean;
  /** Most bytes of one audio event. Default {@link MAX_STREAM_PAYLOAD_BYTES}. */
  readonly maxAudioBytes?: number;
  /** An audio event holds a multiple of this many bytes. Default 1. */
  readonly audioByteMultiple?: number;
  /** The scope of `end`, or null where it never comes. */
  readonly endScope: 'call' | 'participants' | null;
  /** Checks a `reply`'s text; absent where replies never come. */
  readonly reply?: (text: string) => void;
  /** The close codes an error may carry. */
  readonly closeCodes: readonly number[];
  /** Whether flush() may return audio held back (reordering); otherwise it always returns nothing. */
  readonly holdsAudio?: boolean;
}

/**
 * Checks every event against the shape's promises and `rules`; returns them for chaining. An error
 * ends the answer, alone but for the replies that tell the client why (AudioHook's `disconnect`).
 */
export function expectWellFormed(events: readonly StreamEvent[], rules: EventRules): readonly StreamEvent[] {
  expect(Array.isArray(events)).toBe(true);
  events.forEach((event, i) => {
    switch (event.type) {
      case 'start':
        expectWellFormedStart(event, rules);
        break;
      case 'audio':
        if (event.participant === null) expect(rules.interleaves).toBe(true);
        else expect(rules.participants).toContain(event.participant);
        expect(Buffer.isBuffer(event.payload)).toBe(true);
        expect(event.payload.length).toBeGreaterThan(0);
        expect(event.payload.length).toBeLessThanOrEqual(rules.maxAudioBytes ?? MAX_STREAM_PAYLOAD_BYTES);
        expect(event.payload.length % (rules.audioByteMultiple ?? 1)).toBe(0);
        break;
      case 'end':
        if (rules.endScope === null) throw new Error('unexpected event end');
        expect(event.scope).toBe(rules.endScope);
        break;
      case 'reply':
        if (rules.reply === undefined) throw new Error('unexpected event reply');
        rules.reply(event.text);
        break;
      case 'error':
        expect(event.error).toBeInstanceOf(AppError);
        expect(Object.keys(ErrorCode)).toContain(event.error.code);
        expect(rules.closeCodes).toContain(event.error.closeCode);
        // A close reason is at most 123 bytes; earshot keeps its own to 120.
        expect(Buffer.byteLength(event.error.message)).toBeLessThanOrEqual(120);
        expect(i).toBe(events.length - 1);
        for (const before of events.slice(0, i)) expect(before.type).toBe('reply');
        break;
      case 'ignored':
        expect(typeof event.what).toBe('string');
        expect(event.what.length).toBeLessThanOrEqual(32);
        break;
      default:
        throw new Error(`unexpected event ${(event as StreamEvent).type}`);
    }
  });
  return events;
}

function expectWellFormedStart(event: StreamStart, rules: EventRules): void {
  expect(event.callId === null || isValidCallId(event.callId)).toBe(true);
  expect(isValidCallId(event.platformCallId)).toBe(true);
  if (rules.credential === false) expect(event.credential).toBeNull();
  else
    expect(
      event.credential === null || (typeof event.credential === 'string' && event.credential !== ''),
    ).toBe(true);
  if (rules.exactParticipants) expect(event.participants).toEqual(rules.participants);
  expect(event.participants.length).toBeGreaterThan(0);
  expect(new Set(event.participants).size).toBe(event.participants.length);
  for (const p of event.participants) expect(rules.participants).toContain(p);
  expect(event.interleaved).toBe(rules.interleaves === true && event.participants.length === 2);
  expect(event.format).toEqual({ encoding: event.format.encoding, sampleRateHz: event.format.sampleRateHz });
  expect(rules.encodings).toContain(event.format.encoding);
  expect(rules.ratesHz).toContain(event.format.sampleRateHz);
  for (const number of [event.from, event.to]) {
    if (rules.numbers === false) expect(number).toBeNull();
    else expect(number === null || typeof number === 'string').toBe(true);
  }
}

/**
 * Feeds `messages` to `parser` in order, then flushes it: every answer well-formed, and once an
 * error came, every later answer that error alone. Flushing returns nothing unless `holdsAudio`.
 */
export function expectParsesWellFormed(
  parser: PlatformParser,
  messages: Iterable<WireMessage>,
  rules: EventRules,
): void {
  let failed = false;
  for (const { data, isBinary } of messages) {
    const events = expectWellFormed(parser.parse(data, isBinary), rules);
    if (failed) expect(events.map((e) => e.type)).toEqual(['error']);
    failed ||= events.some((e) => e.type === 'error');
  }
  const flushed = expectWellFormed(parser.flush(), rules);
  if (rules.holdsAudio !== true) expect(flushed).toEqual([]);
}

/** The one event of `events`. */
export function only(events: readonly StreamEvent[]): StreamEvent {
  expect(events).toHaveLength(1);
  return events[0];
}

/** The one event of `events`, which must be a start. */
export function startOf(events: readonly StreamEvent[]): StreamStart {
  const event = only(events);
  if (event.type !== 'start') throw new Error(`expected start, got ${event.type}`);
  return event;
}

/** The error of `events`, which must be that error alone. */
export function errorOf(events: readonly StreamEvent[]): AppError {
  const event = only(events);
  if (event.type !== 'error') throw new Error(`expected an error, got ${event.type}`);
  return event.error;
}

/**
 * Checks that `events` are one error of `code` (with its close code) whose message is `message`
 * (or matches it), short, and does not repeat `marker`, a value the client sent.
 */
export function expectRefusal(
  events: readonly StreamEvent[],
  code: keyof typeof ErrorCode,
  message: string | RegExp,
  marker: string,
): void {
  const error = errorOf(events);
  expect(error.code).toBe(code);
  expect(error.closeCode).toBe(ErrorCode[code].closeCode);
  if (typeof message === 'string') expect(error.message).toBe(message);
  else expect(error.message).toMatch(message);
  expect(error.message).not.toContain(marker);
  expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(120);
}

/** The AppError `fn` throws (a parser piece refusing its input); fails if it throws nothing or anything else. */
export function appErrorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

/** A text message: `message` as it is when a string, else as JSON. */
export function textMessage(message: unknown): WireMessage {
  const text = typeof message === 'string' ? message : JSON.stringify(message);
  return { data: Buffer.from(text, 'utf8'), isBinary: false };
}

/** Sends `message` to `parser` as a text message ({@link textMessage}). */
export function send(parser: PlatformParser, message: unknown): readonly StreamEvent[] {
  const { data } = textMessage(message);
  return parser.parse(data, false);
}

/** A line of test/fixtures/platforms/<platform>/session.jsonl (see its README): `t` text, `b` base64 binary. */
export interface SessionLine<T = unknown> {
  readonly handshake?: {
    readonly path: string;
    readonly query: Record<string, string>;
    readonly headers: Record<string, string>;
  };
  readonly at?: number;
  readonly t?: T;
  readonly b?: string;
}

/** The fixture session's lines, its handshake first, with `{{call_id}}` and `{{token}}` filled in. */
export function readSessionLines<T = unknown>(
  platform: string,
  values: { call_id: string; token: string },
): SessionLine<T>[] {
  return readFileSync(new URL(`../fixtures/platforms/${platform}/session.jsonl`, import.meta.url), 'utf8')
    .replaceAll('{{call_id}}', values.call_id)
    .replaceAll('{{token}}', values.token)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as SessionLine<T>);
}

/** A session line as the WebSocket message `ws` would deliver. */
export function wireMessageOf(line: SessionLine): WireMessage {
  return line.b !== undefined ? { data: Buffer.from(line.b, 'base64'), isBinary: true } : textMessage(line.t);
}

/** The fixture session's messages (the lines after its handshake), filled in with `c1` and `t1`. */
export function sessionMessages(platform: string): WireMessage[] {
  return readSessionLines(platform, { call_id: 'c1', token: 't1' }).slice(1).map(wireMessageOf);
}

/** The JSON examples (```json blocks) of test/fixtures/platforms/<platform>/README.md, parsed, in order. */
export function readmeJsonExamples(platform: string): unknown[] {
  const readme = readFileSync(
    new URL(`../fixtures/platforms/${platform}/README.md`, import.meta.url),
    'utf8',
  );
  return [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]));
}

/**
 * Checks that `samples` are the fixture's tone (test/fixtures/platforms/tones.mjs): `seconds` of
 * `freqHz` at `rateHz`, peaking at -12 dBFS.
 */
export function expectFixtureTone(
  samples: Int16Array,
  tone: { readonly freqHz: number; readonly rateHz: number; readonly seconds: number },
): void {
  expect(samples.length).toBe(tone.seconds * tone.rateHz);
  const peak = samples.reduce((max, s) => Math.max(max, Math.abs(s)), 0);
  expect(20 * Math.log10(peak / 32768)).toBeCloseTo(-12, 1);
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) if (samples[i - 1] < 0 !== samples[i] < 0) crossings++;
  expect(crossings / 2 / tone.seconds).toBeCloseTo(tone.freqHz, -1);
}

/**
 * Any message: the platform's JSON-shaped messages (`jsonShaped`, sent as JSON text), any text, any
 * JSON, any bytes sent as binary or as text, and the fixture session's own messages when given.
 */
export function anyMessage(
  jsonShaped: fc.Arbitrary<unknown>,
  options: { maxBinaryBytes: number; session?: readonly WireMessage[] },
): fc.Arbitrary<WireMessage> {
  const kinds: fc.Arbitrary<WireMessage>[] = [
    jsonShaped.map((m) => textMessage(JSON.stringify(m))),
    fc.string().map(textMessage),
    fc.jsonValue().map((v) => textMessage(JSON.stringify(v))),
    fc
      .tuple(fc.uint8Array({ maxLength: options.maxBinaryBytes }), fc.boolean())
      .map(([bytes, isBinary]) => ({ data: Buffer.from(bytes), isBinary })),
  ];
  if (options.session !== undefined && options.session.length > 0) {
    kinds.push(fc.constantFrom(...options.session));
  }
  return fc.oneof(...kinds);
}

/** The fast-check options of a property: its number of runs, where the test gives one. */
function runs(numRuns: number | undefined): fc.Parameters<unknown> | undefined {
  return numRuns === undefined ? undefined : { numRuns };
}

interface PropertyOptions {
  readonly rules: EventRules;
  /** fast-check's default (100) unless given. */
  readonly numRuns?: number;
}

interface SessionPropertyOptions extends PropertyOptions {
  readonly parser: () => PlatformParser;
  /** The fixture session's messages ({@link sessionMessages}). */
  readonly session: readonly WireMessage[];
}

/**
 * Property: a parser (fresh from `parser`, or from a random one of those `parser` generates) never
 * throws on up to `maxMessages` random messages, and answers each with well-formed events.
 */
export function assertRandomMessages(
  options: PropertyOptions & {
    readonly parser: (() => PlatformParser) | fc.Arbitrary<() => PlatformParser>;
    readonly message: fc.Arbitrary<WireMessage>;
    readonly maxMessages: number;
  },
): void {
  const { parser, message, rules, maxMessages } = options;
  const parsers = typeof parser === 'function' ? fc.constant(parser) : parser;
  fc.assert(
    fc.property(parsers, fc.array(message, { maxLength: maxMessages }), (make, messages) =>
      expectParsesWellFormed(make(), messages, rules),
    ),
    runs(options.numRuns),
  );
}

/**
 * Property: the fixture `session` cut at any point parses without an error, and whatever follows
 * (up to 5 of `tail`) is answered with well-formed events.
 */
export function assertSessionCutThenAnything(
  options: SessionPropertyOptions & { readonly tail: fc.Arbitrary<WireMessage> },
): void {
  const { session, rules } = options;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: session.length }),
      fc.array(options.tail, { maxLength: 5 }),
      (cut, tail) => {
        const parser = options.parser();
        for (const { data, isBinary } of session.slice(0, cut)) {
          const events = expectWellFormed(parser.parse(data, isBinary), rules);
          expect(events.some((e) => e.type === 'error')).toBe(false);
        }
        expectParsesWellFormed(parser, tail, rules);
      },
    ),
    runs(options.numRuns),
  );
}

/**
 * Property: the fixture `session` (JSON text messages) cut at any point, with any one of `paths`
 * (`field` or `field.inner`) of one message replaced by any JSON value, is answered with well-formed
 * events.
 */
export function assertSessionWithOneFieldReplaced(
  options: SessionPropertyOptions & { readonly paths: readonly string[] },
): void {
  const { session, rules } = options;
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: session.length }),
      fc.integer({ min: 0, max: session.length - 1 }),
      fc.constantFrom(...options.paths),
      fc.jsonValue(),
      (cut, victim, path, value) => {
        const messages = session
          .slice(0, cut)
          .map((m, i) => (i === victim ? withFieldReplaced(m, path, value) : m));
        expectParsesWellFormed(options.parser(), messages, rules);
      },
    ),
    runs(options.numRuns),
  );
}

function withFieldReplaced(message: WireMessage, path: string, value: unknown): WireMessage {
  const parsed = JSON.parse(message.data.toString('utf8'));
  const [head, tail] = path.split('.');
  if (tail === undefined) parsed[head] = value;
  else if (parsed[head] && typeof parsed[head] === 'object') parsed[head][tail] = value;
  return textMessage(JSON.stringify(parsed));
}

/**
 * Property: up to 4000 bytes of audio (whole samples of `sampleBytes`), cut into pieces of 1 to
 * `maxPieceSamples` samples, each sent as `message(piece)` to a started parser, come back as one
 * audio event a piece, the same bytes in the same order.
 */
export function assertAudioSurvivesSplitting(options: {
  readonly parser: () => PlatformParser;
  readonly message: (piece: Buffer) => WireMessage;
  readonly sampleBytes: number;
  readonly maxPieceSamples: number;
  readonly numRuns?: number;
}): void {
  const { sampleBytes } = options;
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: sampleBytes, maxLength: 4000 }),
      fc.array(fc.integer({ min: 1, max: options.maxPieceSamples }), { minLength: 1 }),
      (audio, cuts) => {
        const bytes = Buffer.from(audio.subarray(0, audio.length - (audio.length % sampleBytes)));
        const parser = options.parser();
        const received: Buffer[] = [];
        let offset = 0;
        for (let i = 0; offset < bytes.length; i++) {
          const size = cuts[i % cuts.length] * sampleBytes;
          const { data, isBinary } = options.message(Buffer.from(bytes.subarray(offset, offset + size)));
          offset += size;
          const event = only(parser.parse(data, isBinary));
          if (event.type !== 'audio') throw new Error(`expected audio, got ${event.type}`);
          received.push(event.payload);
        }
        expect(Buffer.concat(received)).toEqual(bytes);
      },
    ),
    runs(options.numRuns),
  );
}
