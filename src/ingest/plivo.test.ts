import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyMessage,
  assertRandomMessages,
  assertSessionWithOneFieldReplaced,
  type EventRules,
  errorOf,
  expectWellFormed,
  send,
  sessionMessages,
  startOf,
} from '../../test/helpers/parser-properties.js';
import type { PlatformParser } from './platform-stream.js';
import { createPlivoParser, PLIVO_MAX_EXTRA_HEADERS_CHARS, PLIVO_MAX_MESSAGE_CHARS } from './plivo.js';

const CALL_ID = '12345678-1234-1234-1234-123456789abc';
const STREAM_ID = '87654321-4321-4321-4321-cba987654321';
/** Put into bad values: no error message may repeat it. */
const MARKER = 'ZQXJ7MARKER';
/** 20 ms of 8 kHz L16. */
const FRAME_L16_8K = Buffer.alloc(320, 0x11);

type Json = Record<string, unknown>;

function startMessage(start: Json = {}, top: Json = {}): Json {
  return {
    event: 'start',
    sequenceNumber: 1,
    start: {
      callId: CALL_ID,
      streamId: STREAM_ID,
      accountId: 'MAXXXXXXXXXXXXXXXXXX',
      tracks: ['inbound', 'outbound'],
      mediaFormat: { encoding: 'audio/x-l16', sampleRate: 8000 },
      ...start,
    },
    extra_headers: 'userId=12345;sessionId=abc-xyz',
    ...top,
  };
}

function mediaMessage(track: string, media: Json = {}, top: Json = {}): Json {
  return {
    event: 'media',
    sequenceNumber: 2,
    streamId: STREAM_ID,
    media: {
      track,
      timestamp: '1705312200000',
      chunk: 1,
      payload: FRAME_L16_8K.toString('base64'),
      ...media,
    },
    extra_headers: 'userId=12345;sessionId=abc-xyz',
    ...top,
  };
}

function started(start: Json = {}, top: Json = {}): PlatformParser {
  const parser = createPlivoParser();
  expect(send(parser, startMessage(start, top)).map((e) => e.type)).toEqual(['start']);
  return parser;
}

/**
 * What Plivo's events may be: the tracks start.tracks lists, L16 or μ-law at 8 or 16 kHz, no numbers
 * (they come by HTTP callback), a stop that ends the participants.
 */
const RULES: EventRules = {
  participants: ['caller', 'agent'],
  encodings: ['mulaw', 'pcm16'],
  ratesHz: [8000, 16000],
  numbers: false,
  endScope: 'participants',
  closeCodes: [1003, 1007, 1009],
};

const SESSION_URL = new URL('../../test/fixtures/platforms/plivo/session.jsonl', import.meta.url);

describe('the recorded session (test/fixtures/platforms/plivo/session.jsonl)', () => {
  const CALL = 'call-plivo-1';
  const TOKEN = 'eik_fixtureToken';
  const lines = readFileSync(SESSION_URL, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line.replaceAll('{{call_id}}', CALL).replaceAll('{{token}}', TOKEN)));

  it('is 3 s of both tracks in real time, at most ~200 KB, ending without a stop', () => {
    expect(lines[0].handshake.path).toBe('/ws/plivo');
    const messages = lines.slice(1);
    expect(messages.filter((l) => l.t.event === 'media')).toHaveLength(300);
    for (let i = 1; i < messages.length; i++)
      expect(messages[i].at).toBeGreaterThanOrEqual(messages[i - 1].at);
    expect(messages.at(-1).at).toBe(2980);
    expect(messages.some((l) => l.t.event === 'stop')).toBe(false);
    expect(readFileSync(SESSION_URL).length).toBeLessThan(205_000);
  });

  it('parses every message in order into exactly the events expected', () => {
    const parser = createPlivoParser();
    for (const { t } of lines.slice(1)) {
      const events = parser.parse(Buffer.from(JSON.stringify(t)), false);
      expectWellFormed(events, RULES);
      switch (t.event) {
        case 'start':
          expect(events).toEqual([
            {
              type: 'start',
              callId: CALL,
              platformCallId: CALL_ID,
              credential: TOKEN,
              participants: ['caller', 'agent'],
              interleaved: false,
              format: { encoding: 'pcm16', sampleRateHz: 8000 },
              from: null,
              to: null,
            },
          ]);
          break;
        case 'media':
          expect(events).toEqual([
            {
              type: 'audio',
              participant: t.media.track === 'inbound' ? 'caller' : 'agent',
              payload: Buffer.from(t.media.payload, 'base64'),
            },
          ]);
          break;
        case 'dtmf':
          expect(events).toEqual([{ type: 'ignored', what: 'dtmf' }]);
          break;
        case 'playedStream':
          expect(events).toEqual([{ type: 'ignored', what: 'playedStream' }]);
          break;
        default:
          throw new Error(`unexpected ${t.event} in the fixture`);
      }
    }
    expect(parser.flush()).toEqual([]);
  });

  it('carries the tones little-endian: the caller at 600 Hz, the agent at 1500 Hz, at -12 dBFS', () => {
    const first = (track: string) =>
      lines.find((l) => l.t?.event === 'media' && l.t.media.track === track).t.media;
    for (const [track, freqHz] of [
      ['inbound', 600],
      ['outbound', 1500],
    ] as const) {
      const bytes = Buffer.from(first(track).payload, 'base64');
      const samples = Array.from({ length: bytes.length / 2 }, (_, i) => bytes.readInt16LE(2 * i));
      const amplitude = 32768 * 10 ** (-12 / 20);
      samples.forEach((s, i) => {
        expect(Math.abs(s - amplitude * Math.sin((2 * Math.PI * freqHz * i) / 8000))).toBeLessThanOrEqual(1);
      });
    }
  });
});

describe('start', () => {
  it('names the call by callId, announces the tracks it lists, and reads the format', () => {
    expect(startOf(send(createPlivoParser(), startMessage()))).toEqual({
      type: 'start',
      callId: null,
      platformCallId: CALL_ID,
      credential: null,
      participants: ['caller', 'agent'],
      interleaved: false,
      format: { encoding: 'pcm16', sampleRateHz: 8000 },
      from: null,
      to: null,
    });
    const inboundOnly = startOf(send(createPlivoParser(), startMessage({ tracks: ['inbound', 'inbound'] })));
    expect(inboundOnly.participants).toEqual(['caller']);
    const outboundOnly = startOf(send(createPlivoParser(), startMessage({ tracks: ['outbound'] })));
    expect(outboundOnly.participants).toEqual(['agent']);
  });

  it.each([
    ['audio/x-l16', 8000, 'pcm16'],
    ['audio/x-l16', 16000, 'pcm16'],
    ['audio/x-mulaw', 8000, 'mulaw'],
    ['audio/x-l16;rate=16000', 16000, 'pcm16'],
    ['AUDIO/X-MULAW; rate=8000', 8000, 'mulaw'],
  ])('accepts %s at %i Hz as %s', (encoding, sampleRate, wire) => {
    const start = startOf(send(createPlivoParser(), startMessage({ mediaFormat: { encoding, sampleRate } })));
    expect(start.format).toEqual({ encoding: wire, sampleRateHz: sampleRate });
  });

  it('reads sampleRate as a number or a digit string', () => {
    const start = startOf(
      send(
        createPlivoParser(),
        startMessage({ mediaFormat: { encoding: 'audio/x-l16', sampleRate: '16000' } }),
      ),
    );
    expect(start.format.sampleRateHz).toBe(16000);
  });

  it('refuses an encoding Plivo does not stream with UNSUPPORTED_DATA, without repeating it', () => {
    for (const encoding of ['audio/x-alaw', `audio/${MARKER}`, 'audio/x-l16x']) {
      const error = errorOf(
        send(createPlivoParser(), startMessage({ mediaFormat: { encoding, sampleRate: 8000 } })),
      );
      expect([error.code, error.closeCode]).toEqual(['UNSUPPORTED_DATA', 1003]);
      expect(error.message).toBe(
        'start.mediaFormat.encoding is not supported: use audio/x-l16 or audio/x-mulaw',
      );
    }
  });

  it.each([
    [{ encoding: 'audio/x-mulaw', sampleRate: 16000 }, 'sampleRate must be 8000 for audio/x-mulaw'],
    [{ encoding: 'audio/x-l16', sampleRate: 24000 }, 'sampleRate must be 8000 or 16000 for audio/x-l16'],
    [
      { encoding: 'audio/x-l16;rate=8000', sampleRate: 16000 },
      'encoding disagrees with start.mediaFormat.sampleRate',
    ],
    [{ encoding: 'audio/x-l16' }, 'sampleRate is required'],
    [{ sampleRate: 8000 }, 'encoding is required'],
  ])('refuses mediaFormat %j as INVALID_PAYLOAD', (mediaFormat, message) => {
    const error = errorOf(send(createPlivoParser(), startMessage({ mediaFormat })));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain(message);
  });

  it.each([
    [{ callId: `${MARKER} x` }, 'start.callId must be'],
    [{ callId: '..' }, 'start.callId must be'],
    [{ callId: undefined }, 'start.callId is required'],
    [{ streamId: 4 }, 'start.streamId must be a string'],
    [{ accountId: [MARKER] }, 'start.accountId must be a string'],
    [{ tracks: [] }, 'start.tracks must be a non-empty array'],
    [{ tracks: undefined }, 'start.tracks must be a non-empty array'],
    [{ tracks: ['inbound', MARKER] }, 'start.tracks must contain only inbound and outbound'],
    [{ mediaFormat: undefined }, 'start.mediaFormat is required'],
  ])('refuses start with %j as INVALID_PAYLOAD naming the field, not the value', (start, message) => {
    const error = errorOf(send(createPlivoParser(), startMessage(start)));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(MARKER);
  });
});

describe('extra_headers', () => {
  const startWith = (extra: unknown) =>
    startOf(send(createPlivoParser(), startMessage({}, { extra_headers: extra })));

  it.each([
    ['token=eik_abc-_9,call_id=sales-42', 'sales-42', 'eik_abc-_9'], // the XML reference's commas
    ['call_id=sales-42;token=eik_abc', 'sales-42', 'eik_abc'], // the protocol reference's semicolons
    [' userId=12345 ; token = eik_abc ; callId=sales-42 ', 'sales-42', 'eik_abc'],
    ['callid=sales-42,Token=eik_abc', 'sales-42', 'eik_abc'], // Plivo allows letters and digits only
    ['CALL-ID=sales-42', 'sales-42', null],
    ['token=first,token=second', null, 'first'],
    ['token=,call_id=', null, null],
    ['novalue,=x,token', null, null],
    ['', null, null],
  ])('reads %j', (extra, callId, token) => {
    const start = startWith(extra);
    expect([start.callId, start.credential]).toEqual([callId, token]);
  });

  it('reads an object of strings too, and no extra_headers at all', () => {
    const start = startWith({ token: 'eik_obj', call_id: 'sales-7', other: 5 });
    expect([start.callId, start.credential]).toEqual(['sales-7', 'eik_obj']);
    expect(startWith(null).credential).toBeNull();
    const parser = createPlivoParser();
    const message = startMessage();
    delete message['extra_headers'];
    expect(startOf(send(parser, message)).credential).toBeNull();
  });

  it('refuses an invalid call_id naming it, without repeating it', () => {
    const error = errorOf(
      send(createPlivoParser(), startMessage({}, { extra_headers: `call_id=${MARKER}/x` })),
    );
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain('extra_headers call_id must be');
    expect(error.message).not.toContain(MARKER);
  });

  it('refuses extra_headers of another type, or longer than the limit', () => {
    expect(errorOf(send(createPlivoParser(), startMessage({}, { extra_headers: [1] }))).message).toBe(
      'extra_headers must be a string',
    );
    const long = `token=${'a'.repeat(PLIVO_MAX_EXTRA_HEADERS_CHARS)}`;
    expect(errorOf(send(createPlivoParser(), startMessage({}, { extra_headers: long }))).message).toContain(
      'extra_headers exceeds',
    );
  });
});

describe('the order of messages', () => {
  it('refuses media before start', () => {
    const error = errorOf(send(createPlivoParser(), mediaMessage('inbound')));
    expect([error.code, error.message]).toEqual(['INVALID_PAYLOAD', 'media before start']);
  });

  it('refuses a second start', () => {
    expect(errorOf(send(started(), startMessage())).message).toBe('start received twice');
  });

  it('refuses media on a track start did not list', () => {
    const parser = started({ tracks: ['inbound'] });
    expect(send(parser, mediaMessage('inbound')).map((e) => e.type)).toEqual(['audio']);
    expect(errorOf(send(parser, mediaMessage('outbound'))).message).toBe(
      'media.track is not one of start.tracks',
    );
  });

  it('ends the participants on a stop (not Plivo protocol, accepted), and refuses what follows it', () => {
    for (const after of [mediaMessage('inbound'), startMessage(), { event: 'stop' }]) {
      const parser = started();
      expect(send(parser, { event: 'stop', streamId: STREAM_ID })).toEqual([
        { type: 'end', scope: 'participants' },
      ]);
      const error = errorOf(send(parser, after));
      expect(['media after stop', 'start after stop', 'stop received twice']).toContain(error.message);
    }
  });

  it('ignores a stop before start, then refuses a start', () => {
    const parser = createPlivoParser();
    expect(send(parser, { event: 'stop' })).toEqual([{ type: 'ignored', what: 'stop before start' }]);
    expect(errorOf(send(parser, startMessage())).message).toBe('start after stop');
  });

  it('refuses messages of another streamId, and accepts them without one', () => {
    const parser = started();
    const noId = mediaMessage('inbound');
    delete noId['streamId'];
    expect(send(parser, noId).map((e) => e.type)).toEqual(['audio']);
    const error = errorOf(send(parser, mediaMessage('inbound', {}, { streamId: MARKER })));
    expect(error.message).toBe('streamId does not match start.streamId');
  });

  it('ignores dtmf, playedStream, played, clearedAudio and unknown events', () => {
    const parser = createPlivoParser();
    expect(send(parser, { event: 'dtmf', dtmf: { track: 'inbound', digit: '5' } })).toEqual([
      { type: 'ignored', what: 'dtmf' },
    ]);
    expect(send(parser, { event: 'playedStream', name: 'c1' })).toEqual([
      { type: 'ignored', what: 'playedStream' },
    ]);
    expect(send(parser, { event: 'played', name: 'c1' })).toEqual([
      { type: 'ignored', what: 'playedStream' },
    ]);
    expect(send(parser, { event: 'clearedAudio' })).toEqual([{ type: 'ignored', what: 'clearedAudio' }]);
    expect(send(parser, { event: 'y'.repeat(40) })).toEqual([{ type: 'ignored', what: 'y'.repeat(32) }]);
    expect(startOf(send(parser, startMessage())).platformCallId).toBe(CALL_ID);
  });
});

describe('media', () => {
  it('hands each track over as its participant, payload as it came', () => {
    const parser = started();
    expect(send(parser, mediaMessage('inbound'))).toEqual([
      { type: 'audio', participant: 'caller', payload: FRAME_L16_8K },
    ]);
    expect(send(parser, mediaMessage('outbound'))).toEqual([
      { type: 'audio', participant: 'agent', payload: FRAME_L16_8K },
    ]);
  });

  it('takes media without chunk and timestamp, and numbers or digit strings when present', () => {
    const parser = started();
    expect(send(parser, mediaMessage('inbound', { chunk: undefined, timestamp: undefined }))).toHaveLength(1);
    expect(send(parser, mediaMessage('inbound', { chunk: '7', timestamp: 1705312200020 }))).toHaveLength(1);
  });

  it.each([
    [{ track: MARKER }, 'media.track must be inbound or outbound'],
    [{ payload: `${MARKER}==` }, 'media.payload is not valid base64'],
    [{ payload: '' }, 'media.payload is empty'],
    [{ payload: undefined }, 'media.payload is required'],
    [{ chunk: -1 }, 'media.chunk must be a non-negative integer'],
    [{ timestamp: '2024-01-15T10:30:00Z' }, 'media.timestamp must be a non-negative integer'],
    [{ payload: Buffer.alloc(321).toString('base64') }, 'whole 16-bit samples'],
  ])('refuses media with %j as INVALID_PAYLOAD', (media, message) => {
    const error = errorOf(send(started(), mediaMessage('inbound', media)));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(MARKER);
  });

  it('takes any byte count of μ-law', () => {
    const parser = started({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 } });
    const odd = Buffer.alloc(161, 0xff);
    expect(send(parser, mediaMessage('inbound', { payload: odd.toString('base64') }))).toEqual([
      { type: 'audio', participant: 'caller', payload: odd },
    ]);
  });

  it.each([
    [{ encoding: 'audio/x-mulaw', sampleRate: 8000 }, 8000],
    [{ encoding: 'audio/x-l16', sampleRate: 8000 }, 16000],
    [{ encoding: 'audio/x-l16', sampleRate: 16000 }, 32000],
  ])('accepts up to 1 s of %j (%i bytes) and refuses more with MESSAGE_TOO_BIG', (mediaFormat, bytes) => {
    const parser = started({ mediaFormat });
    expect(
      send(parser, mediaMessage('inbound', { payload: Buffer.alloc(bytes).toString('base64') })),
    ).toHaveLength(1);
    const error = errorOf(
      send(parser, mediaMessage('inbound', { payload: Buffer.alloc(bytes + 2).toString('base64') })),
    );
    expect([error.code, error.message]).toEqual([
      'MESSAGE_TOO_BIG',
      `media.payload exceeds ${bytes} bytes (1 s of audio)`,
    ]);
  });
});

describe('bad messages', () => {
  it('refuses a binary message with UNSUPPORTED_DATA', () => {
    const error = errorOf(createPlivoParser().parse(FRAME_L16_8K, true));
    expect([error.code, error.closeCode]).toEqual(['UNSUPPORTED_DATA', 1003]);
  });

  it('refuses a message over the size limit with MESSAGE_TOO_BIG', () => {
    const big = `{"event":"x","pad":"${'a'.repeat(PLIVO_MAX_MESSAGE_CHARS)}"}`;
    expect(errorOf(send(createPlivoParser(), big)).code).toBe('MESSAGE_TOO_BIG');
    expect(
      errorOf(createPlivoParser().parse(Buffer.alloc(PLIVO_MAX_MESSAGE_CHARS * 4 + 1), false)).code,
    ).toBe('MESSAGE_TOO_BIG');
  });

  it.each([
    [`{"event":"${MARKER}`, 'message is not valid JSON'],
    ['"media"', 'message must be a JSON object'],
    ['{}', 'event is required'],
  ])('refuses %s as INVALID_PAYLOAD without echoing it', (text, message) => {
    const error = errorOf(send(createPlivoParser(), text));
    expect([error.code, error.message]).toEqual(['INVALID_PAYLOAD', message]);
  });

  it('after an error keeps answering with it', () => {
    const parser = started();
    const error = errorOf(send(parser, '{'));
    expect(errorOf(send(parser, mediaMessage('inbound')))).toBe(error);
    expect(parser.flush()).toEqual([]);
  });
});

describe('never throws on content (property)', () => {
  const session = sessionMessages('plivo');

  it('turns random text, binary and JSON-shaped messages into well-formed events', () => {
    const jsonShaped = fc.record({
      event: fc.constantFrom('start', 'media', 'stop', 'dtmf', 'playedStream', 'clearedAudio', 'x'),
      start: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue()), { nil: undefined }),
      media: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue()), { nil: undefined }),
      extra_headers: fc.option(fc.oneof(fc.string(), fc.jsonValue()), { nil: undefined }),
      streamId: fc.option(fc.jsonValue(), { nil: undefined }),
    });
    assertRandomMessages({
      parser: () => createPlivoParser(),
      message: anyMessage(jsonShaped, { maxBinaryBytes: 200, session }),
      rules: RULES,
      maxMessages: 25,
      numRuns: 500,
    });
  });

  it('handles the recorded session cut at any point, with any field of one message replaced', () => {
    assertSessionWithOneFieldReplaced({
      parser: () => createPlivoParser(),
      session,
      paths: ['event', 'streamId', 'extra_headers', 'media', 'media.track', 'media.payload', 'start'],
      rules: RULES,
      numRuns: 300,
    });
  });
});
