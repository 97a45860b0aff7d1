import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyMessage,
  assertRandomMessages,
  assertSessionCutThenAnything,
  type EventRules,
  errorOf,
  expectFixtureTone,
  expectRefusal,
  only,
  readmeJsonExamples,
  readSessionLines,
  sessionMessages,
  startOf,
  wireMessageOf,
} from '../../test/helpers/parser-properties.js';
import type { ErrorCode } from '../domain/error-code.js';
import type { Handshake, PlatformParser, StreamEvent } from './platform-stream.js';
import {
  createVonageParser,
  VONAGE_MAX_MESSAGE_BYTES,
  VONAGE_MAX_TEXT_BYTES,
  VONAGE_SAMPLE_RATES,
  vonageHandshakeCredential,
} from './vonage.js';

type Json = Record<string, unknown>;

const UUID = 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab';
const CONVERSATION_UUID = 'CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab';
const FRAME_16K = Buffer.alloc(640, 0x11);

function handshake(headers: Handshake['headers'] = {}, query: Record<string, string> = {}): Handshake {
  return { query: new URLSearchParams(query), headers };
}

function text(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}

function connected(fields: Json = {}): Json {
  return {
    event: 'websocket:connected',
    'content-type': 'audio/l16;rate=16000',
    call_id: 'call-1',
    token: 'secret-token',
    uuid: UUID,
    ...fields,
  };
}

function started(fields: Json = {}): PlatformParser {
  const parser = createVonageParser(handshake());
  expect(parser.parse(text(connected(fields)), false).map((e) => e.type)).toEqual(['start']);
  return parser;
}

/**
 * What Vonage's events may be: one mixed stream as the caller, 16-bit PCM at Vonage's rates, whole
 * samples. Vonage has no stop message and no reply: `end` and `reply` never come.
 */
const RULES: EventRules = {
  participants: ['caller'],
  exactParticipants: true,
  encodings: ['pcm16'],
  ratesHz: VONAGE_SAMPLE_RATES,
  audioByteMultiple: 2,
  endScope: null,
  closeCodes: [1003, 1007, 1008, 1009],
};

describe('Vonage: the fixture session', () => {
  const [first, ...lines] = readSessionLines('vonage', { call_id: 'order-1234', token: 'eik_test' });

  it('opens with the handshake, then messages in real-time order', () => {
    expect(first.handshake).toEqual({ path: '/ws/vonage', query: {}, headers: {} });
    let at = 0;
    for (const line of lines) {
      expect(line.at).toBeGreaterThanOrEqual(at);
      at = line.at ?? at;
    }
    expect(lines.filter((l) => l.b !== undefined)).toHaveLength(150);
  });

  it('parses every message in order into exactly the expected events', () => {
    const parser = createVonageParser(handshake(first.handshake?.headers, first.handshake?.query));
    expect(vonageHandshakeCredential(handshake(first.handshake?.headers))).toBeNull();
    const audio: Buffer[] = [];
    for (const [i, line] of lines.entries()) {
      const { data, isBinary } = wireMessageOf(line);
      const events = parser.parse(data, isBinary);
      if (i === 0) {
        expect(events).toEqual([
          {
            type: 'start',
            callId: 'order-1234',
            platformCallId: UUID,
            credential: 'eik_test',
            participants: ['caller'],
            interleaved: false,
            format: { encoding: 'pcm16', sampleRateHz: 16000 },
            from: '447700900000',
            to: '447700900001',
          },
        ]);
      } else if (isBinary) {
        expect(events).toEqual([{ type: 'audio', participant: 'caller', payload: data }]);
        expect(data.length).toBe(640);
        audio.push(data);
      } else {
        expect(events).toEqual([{ type: 'ignored', what: 'websocket:dtmf' }]);
      }
    }
    // No stop message: the socket's close ends the participant, and flush holds nothing.
    expect(parser.flush()).toEqual([]);

    // The mix is the tone the README promises: 3 s of 600 Hz at -12 dBFS.
    const all = Buffer.concat(audio);
    const samples = new Int16Array(all.buffer, all.byteOffset, all.length / 2);
    expectFixtureTone(samples, { freqHz: 600, rateHz: 16000, seconds: 3 });
  });

  it('parses every JSON example of the README, in order', () => {
    const parser = createVonageParser(handshake());
    const events = readmeJsonExamples('vonage').map((example) => only(parser.parse(text(example), false)));
    expect(events.map((e) => e.type)).toEqual(['start', 'ignored']);
    expect(events[0]).toMatchObject({
      callId: 'order-1234',
      platformCallId: UUID,
      credential: 'example-ingest-token',
    });
  });
});

describe('Vonage: formats', () => {
  it.each<[string, number]>([
    ['audio/l16;rate=8000', 8000],
    ['audio/l16;rate=16000', 16000],
    ['audio/l16;rate=24000', 24000],
    ['Audio/L16; rate=8000', 8000],
    ['audio/l16;channels=1;rate=16000', 16000],
  ])('reads %s as 16-bit little-endian PCM at %i Hz', (contentType, sampleRateHz) => {
    const event = startOf(
      createVonageParser(handshake()).parse(text(connected({ 'content-type': contentType })), false),
    );
    expect(event.format).toEqual({ encoding: 'pcm16', sampleRateHz });
  });

  it('reads a first message without event (the first guide) as websocket:connected', () => {
    const { event: _, ...legacy } = connected({ app: 'demo' });
    expect(startOf(createVonageParser(handshake()).parse(text(legacy), false))).toMatchObject({
      callId: 'call-1',
      format: { sampleRateHz: 16000 },
    });
  });

  it.each<[number, number]>([
    [8000, 320],
    [16000, 640],
    [24000, 960],
  ])('at %i Hz takes 20 ms frames (%i bytes), any whole number of samples, up to 1 s', (rate, frame) => {
    const parser = () => started({ 'content-type': `audio/l16;rate=${rate}` });
    for (const size of [frame, 2, 642, rate * 2]) {
      const data = Buffer.alloc(size, 0x22);
      expect(parser().parse(data, true)).toEqual([{ type: 'audio', participant: 'caller', payload: data }]);
    }
    const error = errorOf(parser().parse(Buffer.alloc(rate * 2 + 2), true));
    expect(error.code).toBe('MESSAGE_TOO_BIG');
    expect(error.message).toBe('audio message exceeds 1000 ms');
  });

  it('passes the bytes on as they came (no copy)', () => {
    const data = Buffer.from(FRAME_16K);
    const event = only(started().parse(data, true));
    expect(event.type === 'audio' && event.payload).toBe(data);
  });

  it('fits its largest message in VONAGE_MAX_MESSAGE_BYTES', () => {
    expect(VONAGE_MAX_MESSAGE_BYTES).toBeGreaterThanOrEqual(24000 * 2);
    expect(VONAGE_MAX_MESSAGE_BYTES).toBeGreaterThanOrEqual(VONAGE_MAX_TEXT_BYTES);
  });
});

describe('Vonage: the call and its credential', () => {
  it.each<[string, Json, string | null, string]>([
    ['call_id and uuid', { call_id: 'c-1', uuid: UUID }, 'c-1', UUID],
    ['uuid alone', { call_id: undefined, uuid: UUID }, null, UUID],
    ['uuid over conversation_uuid', { call_id: undefined, conversation_uuid: CONVERSATION_UUID }, null, UUID],
    [
      'conversation_uuid alone',
      { call_id: undefined, uuid: undefined, conversation_uuid: CONVERSATION_UUID },
      null,
      CONVERSATION_UUID,
    ],
    ['call_id alone', { call_id: 'c-2', uuid: undefined }, 'c-2', 'c-2'],
    ['a null call_id', { call_id: null }, null, UUID],
  ])('names the call from %s', (_what, fields, callId, platformCallId) => {
    expect(startOf(createVonageParser(handshake()).parse(text(connected(fields)), false))).toMatchObject({
      callId,
      platformCallId,
    });
  });

  it('asks for a call_id header when nothing names the call', () => {
    const error = errorOf(
      createVonageParser(handshake()).parse(text(connected({ call_id: undefined, uuid: undefined })), false),
    );
    expect(error.code).toBe('MISSING_CALL_ID');
    expect(error.closeCode).toBe(1008);
    expect(error.message).toBe('add a call_id (or the uuid) header to the NCCO websocket endpoint');
  });

  it('takes the credential from the token header, or none', () => {
    expect(startOf(createVonageParser(handshake()).parse(text(connected()), false)).credential).toBe(
      'secret-token',
    );
    expect(
      startOf(createVonageParser(handshake()).parse(text(connected({ token: undefined })), false)).credential,
    ).toBeNull();
  });

  it('reports from and to as strings, numbers made strings, or null', () => {
    const read = (fields: Json) =>
      startOf(createVonageParser(handshake()).parse(text(connected(fields)), false));
    expect(read({ from: '447700900000', to: 447700900001 })).toMatchObject({
      from: '447700900000',
      to: '447700900001',
    });
    expect(read({})).toMatchObject({ from: null, to: null });
    expect(read({ from: '', to: null })).toMatchObject({ from: null, to: null });
  });

  it('ignores other headers of any JSON type', () => {
    const event = startOf(
      createVonageParser(handshake()).parse(
        text(connected({ age: 40, address: { city: 'NYC' }, roles: [1, 2], enable_auditing: false })),
        false,
      ),
    );
    expect(event.callId).toBe('call-1');
  });

  it('ignores websocket:dtmf and other events, before and after websocket:connected', () => {
    const parser = createVonageParser(handshake());
    const dtmf = { event: 'websocket:dtmf', digit: '5', duration: 260 };
    expect(parser.parse(text(dtmf), false)).toEqual([{ type: 'ignored', what: 'websocket:dtmf' }]);
    parser.parse(text(connected()), false);
    for (const event of ['websocket:dtmf', 'websocket:cleared', 'websocket:notify', 'something:new']) {
      expect(parser.parse(text({ event }), false)).toEqual([{ type: 'ignored', what: event }]);
    }
    expect(parser.parse(text({ event: 'y'.repeat(90) }), false)).toEqual([
      { type: 'ignored', what: 'y'.repeat(32) },
    ]);
    expect(only(parser.parse(FRAME_16K, true)).type).toBe('audio');
  });

  it('returns its error again if called after it', () => {
    const parser = createVonageParser(handshake());
    const first = parser.parse(FRAME_16K, true);
    expect(errorOf(first).message).toBe('audio before websocket:connected');
    expect(parser.parse(text(connected()), false)).toBe(first);
    expect(parser.flush()).toEqual([]);
  });
});

describe('Vonage: vonageHandshakeCredential', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJhcHBsaWNhdGlvbl9pZCI6IngifQ.c2lnbmF0dXJl';
  it.each<[string, Handshake['headers'], string | null]>([
    ['a custom Bearer value', { authorization: 'Bearer eik_abc' }, 'eik_abc'],
    ['a bare custom value', { authorization: 'eik_abc' }, 'eik_abc'],
    ['a lower-case scheme with spaces', { authorization: '  bearer   tok123  ' }, 'tok123'],
    ["Vonage's own signed JWT", { authorization: `Bearer ${jwt}` }, null],
    ['a bare JWT', { authorization: jwt }, null],
    ['an empty header', { authorization: '' }, null],
    ['Bearer and nothing', { authorization: 'Bearer ' }, null],
    ['no header', {}, null],
    ['an array', { authorization: ['Bearer first', 'Bearer second'] }, 'first'],
  ])('%s', (_what, headers, expected) => {
    expect(vonageHandshakeCredential(handshake(headers))).toBe(expected);
  });
});

describe('Vonage: bad input', () => {
  const MARK = 'EVIL\u202e<script>';
  const fresh =
    (data: Buffer | string, isBinary = false) =>
    () =>
      createVonageParser(handshake()).parse(typeof data === 'string' ? Buffer.from(data) : data, isBinary);
  const withConnected = (fields: Json) => fresh(text(connected(fields)));
  const afterConnected =
    (data: Buffer | string, isBinary = false) =>
    () =>
      started().parse(typeof data === 'string' ? Buffer.from(data) : data, isBinary);

  it.each<[string, () => readonly StreamEvent[], keyof typeof ErrorCode, string | RegExp]>([
    [
      'audio before websocket:connected',
      fresh(FRAME_16K, true),
      'INVALID_PAYLOAD',
      'audio before websocket:connected',
    ],
    [
      'a second websocket:connected',
      afterConnected(text(connected())),
      'INVALID_PAYLOAD',
      'websocket:connected received twice',
    ],
    [
      'an empty audio message',
      afterConnected(Buffer.alloc(0), true),
      'INVALID_PAYLOAD',
      'audio message is empty',
    ],
    [
      'an odd byte count',
      afterConnected(Buffer.alloc(641), true),
      'INVALID_PAYLOAD',
      'audio message must be whole 16-bit samples',
    ],
    [
      'over 1 s of audio',
      afterConnected(Buffer.alloc(32_002), true),
      'MESSAGE_TOO_BIG',
      'audio message exceeds 1000 ms',
    ],
    ['malformed JSON', fresh(`{"event":"${MARK}",`), 'INVALID_PAYLOAD', 'message is not valid JSON'],
    ['plain text', fresh(MARK), 'INVALID_PAYLOAD', 'message is not valid JSON'],
    ['a JSON array', fresh('[1]'), 'INVALID_PAYLOAD', 'message must be a JSON object'],
    ['a non-string event', fresh('{"event":7}'), 'INVALID_PAYLOAD', 'event must be a string'],
    ['no event and no content-type', fresh('{"app":"demo"}'), 'INVALID_PAYLOAD', 'event is required'],
    [
      'no event after websocket:connected',
      afterConnected(text(connected({ event: undefined }))),
      'INVALID_PAYLOAD',
      'event is required',
    ],
    [
      'no content-type',
      withConnected({ 'content-type': undefined }),
      'INVALID_PAYLOAD',
      'content-type is required',
    ],
    [
      'a numeric content-type',
      withConnected({ 'content-type': 16000 }),
      'INVALID_PAYLOAD',
      'content-type must be a string',
    ],
    [
      'another codec',
      withConnected({ 'content-type': 'audio/pcmu;rate=8000' }),
      'UNSUPPORTED_DATA',
      "content-type 'audio/pcmu' is not supported (audio/l16 only)",
    ],
    [
      'a content-type not fit to quote',
      withConnected({ 'content-type': MARK }),
      'UNSUPPORTED_DATA',
      'content-type (unrecognised) is not supported (audio/l16 only)',
    ],
    [
      'no rate',
      withConnected({ 'content-type': 'audio/l16' }),
      'INVALID_PAYLOAD',
      'content-type must name a rate (audio/l16;rate=16000)',
    ],
    [
      'a malformed rate',
      withConnected({ 'content-type': `audio/l16;rate=${MARK}` }),
      'INVALID_PAYLOAD',
      'content-type has a malformed rate',
    ],
    [
      'an unsupported rate',
      withConnected({ 'content-type': 'audio/l16;rate=44100' }),
      'UNSUPPORTED_DATA',
      'sample rate 44100 Hz is not supported (8000, 16000 or 24000)',
    ],
    ['a bad call_id', withConnected({ call_id: MARK }), 'INVALID_PAYLOAD', /^call_id must be 1-128/],
    ["call_id '.'", withConnected({ call_id: '.' }), 'INVALID_PAYLOAD', /not '\.' or '\.\.'/],
    [
      'a numeric call_id',
      withConnected({ call_id: 1234 }),
      'INVALID_PAYLOAD',
      'call_id header must be a string',
    ],
    ['a bad uuid', withConnected({ uuid: MARK }), 'INVALID_PAYLOAD', /^uuid must be 1-128/],
    ['an object uuid', withConnected({ uuid: {} }), 'INVALID_PAYLOAD', 'uuid header must be a string'],
    [
      'a bad conversation_uuid',
      withConnected({ conversation_uuid: 'a b' }),
      'INVALID_PAYLOAD',
      /^conversation_uuid must be 1-128/,
    ],
    ['an empty token', withConnected({ token: '' }), 'INVALID_PAYLOAD', 'token must not be empty'],
    ['a numeric token', withConnected({ token: 42 }), 'INVALID_PAYLOAD', 'token header must be a string'],
    ['an object from', withConnected({ from: { n: 1 } }), 'INVALID_PAYLOAD', 'from header must be a string'],
    [
      'a text message above the limit',
      fresh(' '.repeat(VONAGE_MAX_TEXT_BYTES + 1)),
      'MESSAGE_TOO_BIG',
      'text message exceeds 65536 bytes',
    ],
  ])('refuses %s', (_what, run, code, message) => {
    expectRefusal(run(), code, message, 'EVIL');
  });
});

describe('Vonage: properties', () => {
  const jsonShaped = fc.record(
    {
      event: fc.oneof(
        fc.constantFrom('websocket:connected', 'websocket:dtmf', 'websocket:cleared'),
        fc.jsonValue(),
      ),
      'content-type': fc.oneof(
        fc.constantFrom('audio/l16;rate=8000', 'audio/l16;rate=16000', 'audio/l16;rate=24000', 'audio/l16'),
        fc.jsonValue(),
      ),
      call_id: fc.oneof(fc.constant('c-1'), fc.jsonValue()),
      uuid: fc.oneof(fc.constant(UUID), fc.jsonValue()),
      conversation_uuid: fc.jsonValue(),
      token: fc.oneof(fc.constant('tok'), fc.jsonValue()),
      from: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  const message = anyMessage(jsonShaped, { maxBinaryBytes: 1400 });

  it('never throws, and returns only well-formed events, on random messages', () => {
    assertRandomMessages({
      parser: () => createVonageParser(handshake()),
      message,
      rules: RULES,
      maxMessages: 12,
    });
  });

  it('never throws on the valid session cut at a random point and followed by anything', () => {
    assertSessionCutThenAnything({
      parser: () => createVonageParser(handshake()),
      session: sessionMessages('vonage'),
      tail: message,
      rules: RULES,
    });
  });

  it('never throws on random Authorization headers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.string()), fc.constant(undefined)), (authorization) => {
        const credential = vonageHandshakeCredential(handshake({ authorization }));
        if (credential !== null) {
          expect(credential).not.toBe('');
          expect(credential).toBe(credential.trim());
        }
      }),
    );
  });
});
