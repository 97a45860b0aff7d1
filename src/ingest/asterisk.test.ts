import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyMessage,
  assertAudioSurvivesSplitting,
  assertRandomMessages,
  assertSessionCutThenAnything,
  type EventRules,
  expectFixtureTone,
  expectParsesWellFormed,
  expectRefusal,
  expectWellFormed,
  only,
  readmeJsonExamples,
  readSessionLines,
  type SessionLine,
  startOf,
  textMessage,
  type WireMessage,
} from '../../test/helpers/parser-properties.js';
import type { ErrorCode } from '../domain/error-code.js';
import {
  ASTERISK_MAX_MESSAGE_BYTES,
  ASTERISK_MAX_TEXT_BYTES,
  ASTERISK_PRESTART_HOLD_BYTES,
  ASTERISK_PRESTART_HOLD_MESSAGES,
  asteriskHandshakeCredential,
  asteriskParticipant,
  createAsteriskParser,
} from './asterisk.js';
import type { Handshake, PlatformParser, StreamEvent } from './platform-stream.js';

type Json = Record<string, unknown>;

const CONNECTION_ID = 'e226e283-c90a-4ea9-9e37-389000b9ef47';
const CHANNEL_ID = 'pbx1-1764570000.42';
const FRAME_ULAW = Buffer.alloc(160, 0xff);
const FRAME_16K = Buffer.alloc(640, 0x11);

function handshake(
  query: Record<string, string> | URLSearchParams = {},
  headers: Handshake['headers'] = {},
): Handshake {
  return { query: new URLSearchParams(query), headers };
}

function parserWith(query: Record<string, string> | URLSearchParams = {}): PlatformParser {
  return createAsteriskParser(handshake(query));
}

/** A text message: a string as it is (the plain form), anything else as JSON. */
function send(parser: PlatformParser, message: unknown): readonly StreamEvent[] {
  const { data } = textMessage(message);
  return parser.parse(data, false);
}

function plainStart(format = 'ulaw', extra = ''): string {
  return `MEDIA_START connection_id:${CONNECTION_ID} channel:WebSocket/earshot-00000001 channel_id:${CHANNEL_ID} format:${format} optimal_frame_size:160 ptime:20${extra}`;
}

function jsonStart(fields: Json = {}): Json {
  return {
    event: 'MEDIA_START',
    connection_id: CONNECTION_ID,
    channel: 'WebSocket/earshot-00000001',
    channel_id: CHANNEL_ID,
    format: 'ulaw',
    optimal_frame_size: 160,
    ptime: 20,
    channel_variables: { A: 'b' },
    ...fields,
  };
}

function started(start: unknown = plainStart(), query: Record<string, string> = {}): PlatformParser {
  const parser = parserWith(query);
  expect(send(parser, start).map((e) => e.type)).toEqual(['start']);
  return parser;
}

const RATES = [8000, 12000, 16000, 24000, 32000, 44100, 48000];

/**
 * What Asterisk's events may be: one participant a socket (named by the URL), μ-law, A-law or
 * little-endian slin at Asterisk's rates up to 48 kHz; the credential and the numbers never come
 * in the start; `HANGUP` ends the participants; audio held before MEDIA_START is never flushed.
 */
const RULES: EventRules = {
  participants: ['caller', 'agent'],
  encodings: ['mulaw', 'alaw', 'pcm16'],
  ratesHz: RATES,
  credential: false,
  numbers: false,
  maxAudioBytes: 96_000,
  endScope: 'participants',
  closeCodes: [1003, 1007, 1009],
};

/** The fixture's lines after the handshake as `ws` would deliver them: `raw` text as is. */
function wireOf(line: SessionLine & { readonly raw?: string }): WireMessage {
  if (line.raw !== undefined) return textMessage(line.raw);
  if (line.b !== undefined) return { data: Buffer.from(line.b, 'base64'), isBinary: true };
  return textMessage(JSON.stringify(line.t));
}

function sessionWire(): WireMessage[] {
  return readSessionLines('asterisk', { call_id: 'c1', token: 't1' }).slice(1).map(wireOf);
}

describe('Asterisk: the fixture session', () => {
  const [first, ...lines] = readSessionLines('asterisk', { call_id: 'order-1234', token: 'eik_test' });

  it('opens with the handshake, then messages in real-time order', () => {
    expect(first.handshake).toEqual({
      path: '/ws/asterisk',
      query: { token: 'eik_test', call_id: 'order-1234', participant: 'caller' },
      headers: {},
    });
    let at = 0;
    for (const line of lines) {
      expect(line.at).toBeGreaterThanOrEqual(at);
      at = line.at ?? at;
    }
    expect(at).toBe(2980);
  });

  it('holds the frames that overtake MEDIA_START, then parses every message into the expected events', () => {
    const parser = createAsteriskParser(handshake(first.handshake?.query, first.handshake?.headers));
    expect(asteriskHandshakeCredential(handshake({}, first.handshake?.headers))).toBeNull();
    const audio: Buffer[] = [];
    const early: Buffer[] = [];
    let seenStart = false;
    for (const line of lines) {
      const { data, isBinary } = wireOf(line);
      const events = expectWellFormed(parser.parse(data, isBinary), RULES);
      if (!seenStart && isBinary) {
        expect(events).toEqual([]);
        early.push(data);
      } else if (!seenStart) {
        seenStart = true;
        expect(events).toEqual([
          {
            type: 'start',
            callId: null,
            platformCallId: CHANNEL_ID,
            credential: null,
            participants: ['caller'],
            interleaved: false,
            format: { encoding: 'pcm16', sampleRateHz: 16000 },
            from: null,
            to: null,
          },
          ...early.map((payload) => ({ type: 'audio', participant: 'caller', payload })),
        ]);
        audio.push(...early);
      } else if (isBinary) {
        expect(events).toEqual([{ type: 'audio', participant: 'caller', payload: data }]);
        expect(data.length).toBe(640);
        audio.push(data);
      } else {
        expect(events).toEqual([{ type: 'ignored', what: 'DTMF_END' }]);
      }
    }
    expect(early).toHaveLength(2);
    expect(parser.flush()).toEqual([]);

    // The caller's tone the README promises: 3 s of 500 Hz at -12 dBFS, the held frames first.
    const all = Buffer.concat(audio);
    const samples = new Int16Array(all.buffer, all.byteOffset, all.length / 2);
    expectFixtureTone(samples, { freqHz: 500, rateHz: 16000, seconds: 3 });
  });

  it('parses every JSON and plain-text example of the README, in order', () => {
    const readme = readFileSync(
      new URL('../../test/fixtures/platforms/asterisk/README.md', import.meta.url),
      'utf8',
    );
    const plain = [...readme.matchAll(/```text\n([\s\S]*?)```/g)]
      .map((m) => m[1].trim())
      .filter((t) => /^[A-Z]/.test(t));
    expect(plain.map((t) => t.split(' ')[0])).toEqual(['MEDIA_START', 'DTMF_END', 'HANGUP']);
    const parser = parserWith();
    expect(plain.map((t) => only(send(parser, t)).type)).toEqual(['start', 'ignored', 'end']);

    const json = parserWith({ participant: 'agent' });
    const events = readmeJsonExamples('asterisk').map((example) => only(send(json, example)));
    expect(events.map((e) => e.type)).toEqual(['start', 'ignored', 'ignored', 'end']);
    expect(events[0]).toMatchObject({
      callId: null,
      platformCallId: CHANNEL_ID,
      participants: ['agent'],
      format: { encoding: 'pcm16', sampleRateHz: 16000 },
    });
    expect(events.slice(1, 3)).toEqual([
      { type: 'ignored', what: 'DTMF_END' },
      { type: 'ignored', what: 'STATUS' },
    ]);
  });
});

describe('Asterisk: MEDIA_START and formats', () => {
  it.each([
    ['ulaw', 'mulaw', 8000],
    ['alaw', 'alaw', 8000],
    ['slin', 'pcm16', 8000],
    ['slin12', 'pcm16', 12000],
    ['slin16', 'pcm16', 16000],
    ['slin24', 'pcm16', 24000],
    ['slin32', 'pcm16', 32000],
    ['slin44', 'pcm16', 44100],
    ['slin48', 'pcm16', 48000],
  ])('reads format %s as %s at %d Hz, in both forms', (format, encoding, sampleRateHz) => {
    for (const start of [plainStart(format), jsonStart({ format })]) {
      const event = startOf(expectWellFormed(send(parserWith(), start), RULES));
      expect(event.format).toEqual({ encoding, sampleRateHz });
    }
  });

  it('takes the participant from ?participant=, caller by default', () => {
    expect(startOf(send(parserWith(), plainStart())).participants).toEqual(['caller']);
    expect(startOf(send(parserWith({ participant: 'agent' }), plainStart())).participants).toEqual(['agent']);
    expect(asteriskParticipant(new URLSearchParams())).toBe('caller');
    expect(asteriskParticipant(new URLSearchParams('participant=bot.1'))).toBe('bot.1');
  });

  it('names the call by channel_id, else connection_id (the first releases send none); never an explicit id', () => {
    const withoutChannelId = `MEDIA_START connection_id:${CONNECTION_ID} channel:WebSocket/c-1 format:ulaw optimal_frame_size:160`;
    expect(startOf(send(parserWith(), withoutChannelId)).platformCallId).toBe(CONNECTION_ID);
    expect(startOf(send(parserWith(), jsonStart({ channel_id: undefined }))).platformCallId).toBe(
      CONNECTION_ID,
    );
    expect(startOf(send(parserWith(), jsonStart({ channel_id: null }))).platformCallId).toBe(CONNECTION_ID);
    const start = startOf(send(parserWith({ call_id: 'order-1', token: 'eik_x' }), plainStart()));
    expect(start).toMatchObject({
      callId: null,
      platformCallId: CHANNEL_ID,
      credential: null,
      from: null,
      to: null,
    });
  });

  it('accepts MEDIA_START keys it does not read, newer ones included, and stray spacing', () => {
    const start = `  MEDIA_START\tconnection_id:${CONNECTION_ID}  format:slin16 passthrough:false unbuffered:false word channel_id:${CHANNEL_ID}\r\n`;
    const event = startOf(send(parserWith(), start));
    expect(event).toMatchObject({
      platformCallId: CHANNEL_ID,
      format: { encoding: 'pcm16', sampleRateHz: 16000 },
    });
    const pretty = JSON.stringify(jsonStart({ passthrough: false, unbuffered: true }), null, 2);
    expect(startOf(send(parserWith(), pretty)).platformCallId).toBe(CHANNEL_ID);
  });

  it('reads the format name whatever its case', () => {
    expect(startOf(send(parserWith(), plainStart('SLIN16'))).format.sampleRateHz).toBe(16000);
  });

  it('fits its largest message in ASTERISK_MAX_MESSAGE_BYTES: 1 s of slin48', () => {
    const parser = started(plainStart('slin48'));
    const second = Buffer.alloc(96_000);
    expect(only(parser.parse(second, true)).type).toBe('audio');
    expect(ASTERISK_MAX_MESSAGE_BYTES).toBe(96_000);
    expect(ASTERISK_MAX_TEXT_BYTES).toBeLessThanOrEqual(ASTERISK_MAX_MESSAGE_BYTES);
  });
});

describe('Asterisk: audio and events', () => {
  it('passes binary audio on as it came (no copy)', () => {
    const parser = started();
    const event = only(parser.parse(FRAME_ULAW, true));
    expect(event).toEqual({ type: 'audio', participant: 'caller', payload: FRAME_ULAW });
    if (event.type === 'audio') expect(event.payload).toBe(FRAME_ULAW);
  });

  it('names the URL participant on every audio event', () => {
    const parser = started(plainStart('slin16'), { participant: 'agent' });
    expect(parser.parse(FRAME_16K, true)).toEqual([
      { type: 'audio', participant: 'agent', payload: FRAME_16K },
    ]);
  });

  it('ignores the other events in both forms, before and after MEDIA_START', () => {
    const events: unknown[] = [
      `DTMF_END digit:5 channel_id:${CHANNEL_ID}`,
      'MEDIA_XOFF',
      'MEDIA_XON',
      'QUEUE_DRAINED',
      `STATUS channel_id:${CHANNEL_ID} queue_length:0 xon_level:800 xoff_level:900 queue_full:false bulk_media:false media_paused:false`,
      'MEDIA_BUFFERING_COMPLETED 61ea9311-d501-46e5-8825-017b342b39f2',
      'MEDIA_MARK_PROCESSED m1',
      `ERROR channel_id:${CHANNEL_ID} error_text:Unable to parse JSON command`,
      'SOME_FUTURE_EVENT with: anything',
      { event: 'MEDIA_XOFF', channel_id: CHANNEL_ID },
      { event: 'DTMF_END', channel_id: CHANNEL_ID, digit: '#' },
      { event: 'ERROR', channel_id: CHANNEL_ID, error_text: 'x' },
      { event: 'something:lower-case' },
      { event: 'X'.repeat(100) },
    ];
    const before = parserWith();
    const after = started();
    for (const parser of [before, after]) {
      for (const message of events) {
        const event = only(expectWellFormed(send(parser, message), RULES));
        expect(event.type).toBe('ignored');
      }
    }
    expect(send(after, 'MEDIA_XOFF')).toEqual([{ type: 'ignored', what: 'MEDIA_XOFF' }]);
    expect(only(send(after, { event: 'X'.repeat(100) }))).toEqual({ type: 'ignored', what: 'X'.repeat(32) });
    // Still streaming, and still unstarted.
    expect(only(after.parse(FRAME_ULAW, true)).type).toBe('audio');
    expect(only(send(before, plainStart())).type).toBe('start');
  });

  it('ends the participant on HANGUP (plain, JSON event or command); then ignores text and refuses audio', () => {
    for (const hangup of ['HANGUP', { event: 'HANGUP' }, { command: 'HANGUP' }]) {
      const parser = started();
      expect(send(parser, hangup)).toEqual([{ type: 'end', scope: 'participants' }]);
      expect(send(parser, 'HANGUP')).toEqual([{ type: 'ignored', what: 'message after HANGUP' }]);
      expect(send(parser, 'DTMF_END digit:1')).toEqual([{ type: 'ignored', what: 'message after HANGUP' }]);
      expectRefusal(send(parser, plainStart()), 'INVALID_PAYLOAD', 'MEDIA_START after HANGUP', CONNECTION_ID);
      expect(parser.flush()).toEqual([]);
    }
    const late = started();
    send(late, 'HANGUP');
    expectRefusal(late.parse(FRAME_ULAW, true), 'INVALID_PAYLOAD', 'audio after HANGUP', 'EVIL');
  });

  it('ignores a HANGUP before MEDIA_START (nothing started, nothing ends), which drops held audio', () => {
    const parser = parserWith();
    expect(parser.parse(FRAME_ULAW, true)).toEqual([]);
    expect(send(parser, 'HANGUP')).toEqual([{ type: 'ignored', what: 'HANGUP before MEDIA_START' }]);
    expectRefusal(send(parser, plainStart()), 'INVALID_PAYLOAD', 'MEDIA_START after HANGUP', 'EVIL');
  });

  it('returns its error again if called after it', () => {
    const parser = started();
    const error = send(parser, 'not an event');
    expect(error.map((e) => e.type)).toEqual(['error']);
    expect(parser.parse(FRAME_ULAW, true)).toBe(error);
    expect(send(parser, 'MEDIA_XON')).toBe(error);
    expect(parser.flush()).toEqual([]);
  });
});

describe('Asterisk: audio before MEDIA_START (asterisk/asterisk#1712)', () => {
  it('holds it and releases it, in order and after the start, when MEDIA_START gives the format', () => {
    const parser = parserWith();
    const frames = [1, 2, 3].map((n) => Buffer.alloc(640, n));
    for (const frame of frames) expect(parser.parse(frame, true)).toEqual([]);
    const events = expectWellFormed(send(parser, jsonStart({ format: 'slin16' })), RULES);
    expect(events.map((e) => e.type)).toEqual(['start', 'audio', 'audio', 'audio']);
    expect(events.slice(1)).toEqual(
      frames.map((payload) => ({ type: 'audio', participant: 'caller', payload })),
    );
    expect(only(parser.parse(FRAME_16K, true))).toEqual({
      type: 'audio',
      participant: 'caller',
      payload: FRAME_16K,
    });
  });

  it('holds a copy: the socket may reuse its buffer', () => {
    const parser = parserWith();
    const frame = Buffer.alloc(160, 7);
    parser.parse(frame, true);
    frame.fill(0);
    const [, held] = send(parser, plainStart());
    expect(held).toEqual({ type: 'audio', participant: 'caller', payload: Buffer.alloc(160, 7) });
  });

  it(`keeps the latest ${ASTERISK_PRESTART_HOLD_MESSAGES} messages, dropping the oldest`, () => {
    const parser = parserWith();
    const total = ASTERISK_PRESTART_HOLD_MESSAGES + 5;
    for (let n = 0; n < total; n++) {
      const events = parser.parse(Buffer.alloc(160, n), true);
      expect(events).toEqual(
        n < ASTERISK_PRESTART_HOLD_MESSAGES
          ? []
          : [{ type: 'ignored', what: 'audio before MEDIA_START dropped' }],
      );
    }
    const events = send(parser, plainStart());
    expect(events).toHaveLength(1 + ASTERISK_PRESTART_HOLD_MESSAGES);
    expect(events.slice(1).map((e) => (e.type === 'audio' ? e.payload[0] : -1))).toEqual(
      Array.from({ length: ASTERISK_PRESTART_HOLD_MESSAGES }, (_, i) => i + 5),
    );
  });

  it(`keeps at most ${ASTERISK_PRESTART_HOLD_BYTES} bytes, and drops a single message larger than that`, () => {
    const parser = parserWith();
    const big = Buffer.alloc(ASTERISK_PRESTART_HOLD_BYTES / 2, 1);
    expect(parser.parse(big, true)).toEqual([]);
    expect(parser.parse(Buffer.alloc(ASTERISK_PRESTART_HOLD_BYTES / 2, 2), true)).toEqual([]);
    expect(parser.parse(Buffer.alloc(2, 3), true)).toEqual([
      { type: 'ignored', what: 'audio before MEDIA_START dropped' },
    ]);
    expect(parser.parse(Buffer.alloc(ASTERISK_PRESTART_HOLD_BYTES + 2), true)).toEqual([
      { type: 'ignored', what: 'audio before MEDIA_START dropped' },
    ]);
    const events = send(parser, plainStart('slin16'));
    expect(
      events.slice(1).map((e) => (e.type === 'audio' ? [e.payload[0], e.payload.length] : null)),
    ).toEqual([
      [2, ASTERISK_PRESTART_HOLD_BYTES / 2],
      [3, 2],
    ]);
  });

  it('checks the held audio against the format: a partial sample refuses the stream', () => {
    const parser = parserWith();
    parser.parse(Buffer.alloc(3), true);
    expectRefusal(
      send(parser, plainStart('slin16')),
      'INVALID_PAYLOAD',
      'audio message must be whole 16-bit samples',
      'EVIL',
    );
  });

  it('releases nothing when the socket closes before MEDIA_START', () => {
    const parser = parserWith();
    parser.parse(FRAME_ULAW, true);
    expect(parser.flush()).toEqual([]);
  });
});

describe('Asterisk: asteriskHandshakeCredential', () => {
  const basic = (pair: string) => `Basic ${Buffer.from(pair).toString('base64')}`;
  it.each([
    ['the password of Basic', basic('asterisk:eik_secret'), 'eik_secret'],
    ['a password with colons', basic('u:a:b'), 'a:b'],
    ['an empty user name', basic(':tok'), 'tok'],
    ['basic in any case', `bAsIc ${Buffer.from('u:tok').toString('base64')}`, 'tok'],
    ['no password', basic('user:'), null],
    ['no colon', basic('user'), null],
    ['Bearer (not what Asterisk sends)', 'Bearer eik_x', null],
    ['bad base64', 'Basic !!!', null],
    ['no header', undefined, null],
    ['a repeated header', ['Basic dTp0', 'Basic dTp1'], null],
  ])('reads %s', (_what, authorization, expected) => {
    expect(asteriskHandshakeCredential(handshake({}, { authorization }))).toBe(expected);
  });
});

describe('Asterisk: bad input', () => {
  const tooLongId = 'x'.repeat(129);
  const cases: [string, () => readonly StreamEvent[], ErrorCode, string | RegExp][] = [
    [
      'a codec earshot does not decode, naming it',
      () => send(parserWith(), plainStart('opus')),
      'UNSUPPORTED_DATA',
      "Asterisk format 'opus' is not supported: use ulaw, alaw or slin (8-48 kHz)",
    ],
    [
      'slin above 48 kHz',
      () => send(parserWith(), jsonStart({ format: 'slin96' })),
      'UNSUPPORTED_DATA',
      /'slin96' is not supported/,
    ],
    [
      'an odd format name without echoing it',
      () => send(parserWith(), plainStart('EVIL<script>')),
      'UNSUPPORTED_DATA',
      'Asterisk format (unrecognised) is not supported: use ulaw, alaw or slin (8-48 kHz)',
    ],
    [
      'a MEDIA_START without format',
      () => send(parserWith(), `MEDIA_START connection_id:${CONNECTION_ID} channel_id:EVIL`),
      'INVALID_PAYLOAD',
      'MEDIA_START format is required',
    ],
    [
      'an empty format',
      () => send(parserWith(), jsonStart({ format: '' })),
      'INVALID_PAYLOAD',
      'MEDIA_START format is required',
    ],
    [
      'a format that is not a string',
      () => send(parserWith(), jsonStart({ format: 7 })),
      'INVALID_PAYLOAD',
      'MEDIA_START format must be a string',
    ],
    [
      'a MEDIA_START without any id',
      () => send(parserWith(), 'MEDIA_START format:ulaw EVIL'),
      'INVALID_PAYLOAD',
      'MEDIA_START must carry channel_id or connection_id',
    ],
    [
      'a bad channel_id',
      () => send(parserWith(), jsonStart({ channel_id: `EVIL/${tooLongId}` })),
      'INVALID_PAYLOAD',
      /^channel_id must be 1-128 characters/,
    ],
    [
      'a bad connection_id',
      () => send(parserWith(), jsonStart({ channel_id: null, connection_id: 'EVIL/1' })),
      'INVALID_PAYLOAD',
      /^connection_id must be/,
    ],
    [
      'a channel_id that is not a string',
      () => send(parserWith(), jsonStart({ channel_id: 12 })),
      'INVALID_PAYLOAD',
      'MEDIA_START channel_id must be a string',
    ],
    [
      'a key given twice',
      () => send(parserWith(), `${plainStart()} format:alaw EVIL`),
      'INVALID_PAYLOAD',
      'MEDIA_START format given twice',
    ],
    [
      'MEDIA_START twice',
      () => send(started(), plainStart()),
      'INVALID_PAYLOAD',
      'MEDIA_START received twice',
    ],
    [
      'a text message that is no Asterisk event',
      () => send(parserWith(), 'hello EVIL'),
      'INVALID_PAYLOAD',
      'text message is not an Asterisk event',
    ],
    [
      'a lower-case command',
      () => send(parserWith(), 'hangup'),
      'INVALID_PAYLOAD',
      'text message is not an Asterisk event',
    ],
    ['an empty text message', () => send(parserWith(), ' \r\n'), 'INVALID_PAYLOAD', 'text message is empty'],
    [
      'malformed JSON',
      () => send(parserWith(), '{"event":"EVIL'),
      'INVALID_PAYLOAD',
      'message is not valid JSON',
    ],
    ['JSON without event', () => send(parserWith(), { EVIL: 1 }), 'INVALID_PAYLOAD', 'event is required'],
    [
      'JSON whose event is not a string',
      () => send(parserWith(), { event: ['EVIL'] }),
      'INVALID_PAYLOAD',
      'event must be a string',
    ],
    [
      'a text message over 64 KiB',
      () => send(parserWith(), `MEDIA_XON ${'EVIL'.repeat(ASTERISK_MAX_TEXT_BYTES / 4)}`),
      'MESSAGE_TOO_BIG',
      `text message exceeds ${ASTERISK_MAX_TEXT_BYTES} bytes`,
    ],
    [
      'an odd byte count of slin',
      () => started(plainStart('slin16')).parse(Buffer.alloc(641), true),
      'INVALID_PAYLOAD',
      'audio message must be whole 16-bit samples',
    ],
    [
      'an empty binary message',
      () => started().parse(Buffer.alloc(0), true),
      'INVALID_PAYLOAD',
      'audio message is empty',
    ],
    [
      'an empty binary message before MEDIA_START',
      () => parserWith().parse(Buffer.alloc(0), true),
      'INVALID_PAYLOAD',
      'audio message is empty',
    ],
    [
      'over 1 s of audio in one message',
      () => started().parse(Buffer.alloc(8001), true),
      'MESSAGE_TOO_BIG',
      'audio message exceeds 1000 ms',
    ],
    [
      'a repeated ?participant=',
      () => send(parserWith(new URLSearchParams('participant=a&participant=b')), plainStart()),
      'VALIDATION_ERROR',
      'participant must be given at most once',
    ],
    [
      'a bad ?participant=',
      () => parserWith({ participant: 'EVIL name' }).parse(FRAME_ULAW, true),
      'VALIDATION_ERROR',
      'participant must be 1-64 characters of [A-Za-z0-9_.-]',
    ],
  ];
  it.each(cases)('refuses %s', (_what, run, code, message) => {
    expectRefusal(expectWellFormed(run(), RULES), code, message, 'EVIL');
  });

  it('refuses a bad ?participant= before the upgrade too', () => {
    expect(() => asteriskParticipant(new URLSearchParams('participant='))).toThrow(
      /participant must be 1-64/,
    );
    expect(() => asteriskParticipant(new URLSearchParams('participant=a,b'))).toThrow(
      /participant must be 1-64/,
    );
  });
});

describe('Asterisk: properties', () => {
  const session = sessionWire();
  const plainShaped = fc
    .tuple(
      fc.constantFrom('MEDIA_START', 'HANGUP', 'DTMF_END', 'MEDIA_XOFF', 'STATUS', 'ERROR'),
      fc.array(
        fc.oneof(
          fc
            .tuple(fc.constantFrom('format', 'channel_id', 'connection_id', 'ptime'), fc.string())
            .map(([k, v]) => `${k}:${v}`),
          fc.constantFrom(
            'format:ulaw',
            'format:slin16',
            'format:opus',
            `channel_id:${CHANNEL_ID}`,
            `connection_id:${CONNECTION_ID}`,
          ),
          fc.string(),
        ),
        { maxLength: 6 },
      ),
    )
    .map(([name, words]) => [name, ...words].join(' '));
  const jsonShaped = fc.record(
    {
      event: fc.oneof(fc.constantFrom('MEDIA_START', 'HANGUP', 'DTMF_END', 'MEDIA_XON'), fc.jsonValue()),
      command: fc.oneof(fc.constant('HANGUP'), fc.jsonValue()),
      format: fc.oneof(fc.constantFrom('ulaw', 'alaw', 'slin', 'slin44', 'slin96', 'g722'), fc.jsonValue()),
      channel_id: fc.oneof(fc.constant(CHANNEL_ID), fc.jsonValue()),
      connection_id: fc.oneof(fc.constant(CONNECTION_ID), fc.jsonValue()),
      channel_variables: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  const message = fc.oneof(
    anyMessage(jsonShaped, { maxBinaryBytes: 1400, session }),
    plainShaped.map((t) => textMessage(t)),
  );
  const parsers = fc
    .constantFrom<Record<string, string>>({}, { participant: 'agent' }, { participant: 'bad name' })
    .map((query) => () => parserWith(query));

  it('never throws, and returns only well-formed events, on random messages', () => {
    assertRandomMessages({ parser: parsers, message, rules: RULES, maxMessages: 12 });
  });

  it('never throws on the valid session cut at a random point and followed by anything', () => {
    assertSessionCutThenAnything({ parser: () => parserWith(), session, tail: message, rules: RULES });
  });

  it('holds at most the bounds whatever comes before MEDIA_START', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40_000 }), { maxLength: 30 }),
        (frames) => {
          const parser = parserWith();
          for (const frame of frames) expectWellFormed(parser.parse(Buffer.from(frame), true), RULES);
          const events = send(parser, plainStart());
          expectParsesWellFormed(parser, [], RULES);
          const audio = events.filter((e) => e.type === 'audio');
          expect(audio.length).toBeLessThanOrEqual(ASTERISK_PRESTART_HOLD_MESSAGES);
          const bytes = audio.reduce((sum, e) => sum + (e.type === 'audio' ? e.payload.length : 0), 0);
          expect(bytes).toBeLessThanOrEqual(ASTERISK_PRESTART_HOLD_BYTES);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('passes audio through any split into binary messages', () => {
    assertAudioSurvivesSplitting({
      parser: () => started(plainStart('slin16')),
      message: (piece) => ({ data: piece, isBinary: true }),
      sampleBytes: 2,
      maxPieceSamples: 400,
    });
  });

  it('never throws on random Authorization headers or queries', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.array(fc.string()), fc.constant(undefined)),
        fc.string(),
        (authorization, query) => {
          const credential = asteriskHandshakeCredential(handshake({}, { authorization }));
          if (credential !== null) expect(credential).not.toBe('');
          expectParsesWellFormed(
            createAsteriskParser(handshake(new URLSearchParams(query))),
            [textMessage(plainStart())],
            RULES,
          );
        },
      ),
    );
  });
});
