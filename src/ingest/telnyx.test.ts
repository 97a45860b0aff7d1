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
import { decodeMulaw } from '../audio/g711.js';
import type { Handshake, PlatformParser, StreamEvent } from './platform-stream.js';
import {
  createTelnyxParser,
  TELNYX_MAX_MESSAGE_CHARS,
  TELNYX_REORDER_WINDOW_CHUNKS,
  telnyxHandshakeCredential,
} from './telnyx.js';

const STREAM_ID = '32de0dea-53cb-4b21-89a4-9e1819c043bc';
const CALL_CONTROL_ID = 'v3:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ';
/** Put into bad values: no error message may repeat it. */
const MARKER = 'ZQXJ7MARKER';

type Json = Record<string, unknown>;

function startMessage(start: Json = {}, top: Json = {}): Json {
  return {
    event: 'start',
    sequence_number: '1',
    stream_id: STREAM_ID,
    start: {
      user_id: '3e6f995f-85f7-4705-9741-53b116d28237',
      call_control_id: CALL_CONTROL_ID,
      call_session_id: 'ff55a038-6f5d-11ef-9692-02420aeffb1f',
      from: '+13122010094',
      to: '+13122123456',
      client_state: 'aGF2ZSBhIG5pY2UgZGF5ID1d',
      custom_parameters: { customer_id: 'customer_123' },
      media_format: { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
      ...start,
    },
    ...top,
  };
}

/** A 20 ms PCMU payload whose bytes all say which chunk it is. */
function chunkPayload(chunk: number, bytes = 160): Buffer {
  return Buffer.alloc(bytes, chunk & 0xff);
}

function mediaMessage(track: string, chunk: number | string, media: Json = {}, top: Json = {}): Json {
  const n = Number(chunk);
  return {
    event: 'media',
    sequence_number: String(n + 1),
    media: {
      track,
      chunk: String(chunk),
      timestamp: String(Math.max(0, n - 1) * 20),
      payload: chunkPayload(n).toString('base64'),
      ...media,
    },
    stream_id: STREAM_ID,
    ...top,
  };
}

function started(start: Json = {}, top: Json = {}): PlatformParser {
  const parser = createTelnyxParser();
  send(parser, { event: 'connected', version: '1.0.0' });
  const events = send(parser, startMessage(start, top));
  expect(events.map((e) => e.type)).toEqual(['start']);
  return parser;
}

/** The chunk number each audio event carries (payload bytes say it), as `track:chunk`. */
function released(events: readonly StreamEvent[]): string[] {
  return events.map((e) => {
    if (e.type !== 'audio') throw new Error(`expected audio, got ${e.type}`);
    return `${e.participant}:${e.payload[0]}`;
  });
}

function push(parser: PlatformParser, track: 'inbound' | 'outbound', chunk: number): string[] {
  return released(send(parser, mediaMessage(track, chunk)));
}

/** What Telnyx's events may be: both tracks always, PCMU, PCMA or L16, a stop that ends the call. */
const RULES: EventRules = {
  participants: ['caller', 'agent'],
  exactParticipants: true,
  encodings: ['mulaw', 'alaw', 'pcm16be'],
  ratesHz: [8000, 16000, 22050, 24000, 48000],
  endScope: 'call',
  closeCodes: [1003, 1007, 1009],
  holdsAudio: true,
};

describe('the recorded session (test/fixtures/platforms/telnyx/session.jsonl)', () => {
  const CALL_ID = 'call-telnyx-1';
  const TOKEN = 'eik_fixtureToken';
  const lines = readFileSync(
    new URL('../../test/fixtures/platforms/telnyx/session.jsonl', import.meta.url),
    'utf8',
  )
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line.replaceAll('{{call_id}}', CALL_ID).replaceAll('{{token}}', TOKEN)));

  it('puts the stream auth token on the upgrade request, where telnyxHandshakeCredential reads it', () => {
    const { handshake } = lines[0];
    expect(handshake.path).toBe('/ws/telnyx');
    const h: Handshake = { query: new URLSearchParams(handshake.query), headers: handshake.headers };
    expect(telnyxHandshakeCredential(h)).toBe(TOKEN);
  });

  it('is 3 s of both tracks in real time, at most ~200 KB', () => {
    const messages = lines.slice(1);
    expect(messages.every((l) => typeof l.at === 'number' && typeof l.t === 'object')).toBe(true);
    const media = messages.filter((l) => l.t.event === 'media');
    expect(media).toHaveLength(300);
    expect(messages.at(-1).at).toBe(3000);
    for (let i = 1; i < messages.length; i++)
      expect(messages[i].at).toBeGreaterThanOrEqual(messages[i - 1].at);
    const size = readFileSync(
      new URL('../../test/fixtures/platforms/telnyx/session.jsonl', import.meta.url),
    ).length;
    expect(size).toBeLessThan(205_000);
  });

  it('carries the tones: the caller at 600 Hz, the agent at 1500 Hz, at -12 dBFS (within μ-law steps)', () => {
    for (const [track, freqHz] of [
      ['inbound', 600],
      ['outbound', 1500],
    ] as const) {
      const first = lines.find((l) => l.t?.event === 'media' && l.t.media.track === track).t.media;
      const pcm = new Int16Array(160);
      decodeMulaw(Buffer.from(first.payload, 'base64'), pcm);
      const amplitude = 32768 * 10 ** (-12 / 20);
      pcm.forEach((s, i) => {
        const want = amplitude * Math.sin((2 * Math.PI * freqHz * i) / 8000);
        expect(Math.abs(s - want)).toBeLessThanOrEqual(Math.abs(want) / 16 + 8);
      });
    }
  });

  it('parses every message in order into exactly the events expected, chunks put back in order', () => {
    const parser = createTelnyxParser({
      query: new URLSearchParams(),
      headers: lines[0].handshake.headers,
    });
    const heard: Record<string, Buffer[]> = { caller: [], agent: [] };
    const payloadOf = new Map<string, Buffer>();
    let sawOverTaking = 0;
    for (const { t } of lines.slice(1)) {
      const events = parser.parse(Buffer.from(JSON.stringify(t)), false);
      expectWellFormed(events, RULES);
      switch (t.event) {
        case 'connected':
          expect(events).toEqual([{ type: 'ignored', what: 'connected' }]);
          break;
        case 'start':
          expect(events).toEqual([
            {
              type: 'start',
              callId: CALL_ID,
              platformCallId: CALL_CONTROL_ID,
              credential: TOKEN,
              participants: ['caller', 'agent'],
              interleaved: false,
              format: { encoding: 'mulaw', sampleRateHz: 8000 },
              from: '+13122010094',
              to: '+13122123456',
            },
          ]);
          break;
        case 'media': {
          const participant = t.media.track === 'inbound' ? 'caller' : 'agent';
          const chunk = Number(t.media.chunk);
          const payload = Buffer.from(t.media.payload, 'base64');
          payloadOf.set(`${participant}:${chunk}`, payload);
          // The session's two overtaking chunks: 42 ahead of 41 (inbound), 92 ahead of 91 (outbound).
          if ((participant === 'caller' && chunk === 42) || (participant === 'agent' && chunk === 92)) {
            expect(events).toEqual([]);
            sawOverTaking++;
          } else if (
            (participant === 'caller' && chunk === 41) ||
            (participant === 'agent' && chunk === 91)
          ) {
            expect(events).toEqual([
              { type: 'audio', participant, payload },
              { type: 'audio', participant, payload: payloadOf.get(`${participant}:${chunk + 1}`) },
            ]);
          } else {
            expect(events).toEqual([{ type: 'audio', participant, payload }]);
          }
          for (const e of events) if (e.type === 'audio') heard[e.participant!].push(e.payload);
          break;
        }
        case 'dtmf':
          expect(events).toEqual([{ type: 'ignored', what: 'dtmf' }]);
          break;
        case 'mark':
          expect(events).toEqual([{ type: 'ignored', what: 'mark' }]);
          break;
        case 'stop':
          expect(events).toEqual([{ type: 'end', scope: 'call' }]);
          break;
        default:
          throw new Error(`unexpected ${t.event} in the fixture`);
      }
    }
    expect(sawOverTaking).toBe(2);
    expect(parser.flush()).toEqual([]);
    // Each participant heard all 150 chunks, in chunk order.
    for (const participant of ['caller', 'agent']) {
      const inOrder = Array.from({ length: 150 }, (_, i) => payloadOf.get(`${participant}:${i + 1}`));
      expect(heard[participant]).toEqual(inOrder);
    }
  });
});

describe('telnyxHandshakeCredential', () => {
  const handshake = (headers: Handshake['headers']): Handshake => ({ query: new URLSearchParams(), headers });

  it('reads the x-telnyx-streaming-auth-token header', () => {
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': 'eik_abc' }))).toBe(
      'eik_abc',
    );
  });

  it('removes a Bearer prefix (any case) and surrounding spaces', () => {
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': 'Bearer eik_abc' }))).toBe(
      'eik_abc',
    );
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': ' bearer  tok ' }))).toBe(
      'tok',
    );
  });

  it('is null when the header is absent, empty, or repeated', () => {
    expect(telnyxHandshakeCredential(handshake({}))).toBeNull();
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': '  ' }))).toBeNull();
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': ['a', 'b'] }))).toBeNull();
    expect(telnyxHandshakeCredential(handshake({ 'x-telnyx-streaming-auth-token': ['a'] }))).toBe('a');
  });

  it('does not read Authorization (the endpoint reads that one for every platform)', () => {
    expect(telnyxHandshakeCredential(handshake({ authorization: 'Bearer eik_abc' }))).toBeNull();
  });
});

describe('start', () => {
  it('names the call by call_control_id, with the numbers, both participants and the format', () => {
    const parser = createTelnyxParser();
    const start = startOf(send(parser, startMessage()));
    expect(start).toEqual({
      type: 'start',
      callId: null,
      platformCallId: CALL_CONTROL_ID,
      credential: null,
      participants: ['caller', 'agent'],
      interleaved: false,
      format: { encoding: 'mulaw', sampleRateHz: 8000 },
      from: '+13122010094',
      to: '+13122123456',
    });
  });

  it('takes an explicit call_id and a token from custom_parameters', () => {
    const start = startOf(
      send(
        createTelnyxParser(),
        startMessage({ custom_parameters: { call_id: 'sales-42', token: 'eik_x' } }),
      ),
    );
    expect(start.callId).toBe('sales-42');
    expect(start.platformCallId).toBe(CALL_CONTROL_ID);
    expect(start.credential).toBe('eik_x');
  });

  it('reads custom_parameters also in the [{name, value}] form Call Control takes them in', () => {
    const params = [
      { name: 'call_id', value: 'sales-43' },
      { name: 'token', value: 'eik_y' },
    ];
    const start = startOf(send(createTelnyxParser(), startMessage({ custom_parameters: params })));
    expect([start.callId, start.credential]).toEqual(['sales-43', 'eik_y']);
  });

  it('falls back to the token Telnyx repeats in connected, top-level or inside a connected object', () => {
    for (const connected of [
      { event: 'connected', version: '1.0.0', 'x-telnyx-streaming-auth-token': 'eik_c1' },
      { event: 'connected', version: '1.0.0', connected: { 'x-telnyx-streaming-auth-token': 'eik_c1' } },
    ]) {
      const parser = createTelnyxParser();
      expect(send(parser, connected)).toEqual([{ type: 'ignored', what: 'connected' }]);
      expect(startOf(send(parser, startMessage())).credential).toBe('eik_c1');
    }
    const parser = createTelnyxParser();
    send(parser, { event: 'connected', 'x-telnyx-streaming-auth-token': 'eik_c2' });
    const start = startOf(send(parser, startMessage({ custom_parameters: { token: 'eik_param' } })));
    expect(start.credential).toBe('eik_param');
  });

  it('accepts absent or null numbers and no custom parameters', () => {
    const start = startOf(
      send(createTelnyxParser(), startMessage({ from: null, to: undefined, custom_parameters: undefined })),
    );
    expect([start.from, start.to, start.callId]).toEqual([null, null, null]);
  });

  it.each([
    ['PCMU', 8000, 'mulaw'],
    ['PCMA', 8000, 'alaw'],
    ['L16', 8000, 'pcm16be'],
    ['L16', 16000, 'pcm16be'],
    ['L16', 22050, 'pcm16be'],
    ['L16', 24000, 'pcm16be'],
    ['L16', 48000, 'pcm16be'],
  ])('accepts %s at %i Hz as %s', (encoding, rate, wire) => {
    const start = startOf(
      send(
        createTelnyxParser(),
        startMessage({ media_format: { encoding, sample_rate: rate, channels: 1 } }),
      ),
    );
    expect(start.format).toEqual({ encoding: wire, sampleRateHz: rate });
  });

  it('reads the codec name in any case, the rate as a number or a digit string, channels optional', () => {
    const start = startOf(
      send(createTelnyxParser(), startMessage({ media_format: { encoding: 'pcma', sample_rate: '8000' } })),
    );
    expect(start.format).toEqual({ encoding: 'alaw', sampleRateHz: 8000 });
  });

  it.each(['G722', 'OPUS', 'AMR-WB', 'opus'])(
    'refuses %s with UNSUPPORTED_DATA naming the codec',
    (encoding) => {
      const error = errorOf(
        send(
          createTelnyxParser(),
          startMessage({ media_format: { encoding, sample_rate: 16000, channels: 1 } }),
        ),
      );
      expect(error.code).toBe('UNSUPPORTED_DATA');
      expect(error.closeCode).toBe(1003);
      expect(error.message).toBe(
        `Telnyx codec ${encoding.toUpperCase()} is not supported: use PCMU, PCMA or L16`,
      );
    },
  );

  it('refuses an unknown codec without repeating its name', () => {
    const error = errorOf(
      send(createTelnyxParser(), startMessage({ media_format: { encoding: MARKER, sample_rate: 8000 } })),
    );
    expect(error.code).toBe('UNSUPPORTED_DATA');
    expect(error.message).not.toContain(MARKER);
  });

  it.each([
    [{ encoding: 'PCMU', sample_rate: 16000 }, 'sample_rate must be 8000 for PCMU and PCMA'],
    [
      { encoding: 'L16', sample_rate: 44100 },
      'sample_rate must be 8000, 16000, 22050, 24000 or 48000 for L16',
    ],
    [{ encoding: 'L16', sample_rate: -16000 }, 'sample_rate must be a non-negative integer'],
    [{ encoding: 'PCMU', sample_rate: 8000, channels: 2 }, 'channels must be 1'],
    [{ encoding: 'PCMU' }, 'sample_rate is required'],
    [{ sample_rate: 8000 }, 'encoding is required'],
  ])('refuses media_format %j as INVALID_PAYLOAD', (format, message) => {
    const error = errorOf(send(createTelnyxParser(), startMessage({ media_format: format })));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain(message);
  });

  it.each([
    [{ call_control_id: `${MARKER}/..` }, 'start.call_control_id must be'],
    [{ call_control_id: '' }, 'start.call_control_id must be'],
    [{ call_control_id: undefined }, 'start.call_control_id is required'],
    [{ custom_parameters: { call_id: `${MARKER} bad` } }, 'start.custom_parameters.call_id must be'],
    [{ custom_parameters: { call_id: 7 } }, 'start.custom_parameters.call_id must be'],
    [{ custom_parameters: { token: '' } }, 'start.custom_parameters.token must be a non-empty string'],
    [{ custom_parameters: MARKER }, 'start.custom_parameters must be an object'],
    [{ from: 5 }, 'start.from must be a string'],
    [{ media_format: undefined }, 'start.media_format is required'],
  ])('refuses start with %j as INVALID_PAYLOAD naming the field, not the value', (start, message) => {
    const error = errorOf(send(createTelnyxParser(), startMessage(start)));
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain(MARKER);
  });

  it('refuses a start without its start object, or with a stream_id that is not a string', () => {
    expect(errorOf(send(createTelnyxParser(), { event: 'start' })).message).toBe('start is required');
    expect(errorOf(send(createTelnyxParser(), startMessage({}, { stream_id: 3 }))).message).toBe(
      'stream_id must be a string',
    );
  });

  it('refuses a connected token that is not a string', () => {
    const error = errorOf(
      send(createTelnyxParser(), { event: 'connected', 'x-telnyx-streaming-auth-token': 1 }),
    );
    expect(error.code).toBe('INVALID_PAYLOAD');
  });
});

describe('the order of messages', () => {
  it('refuses media before start', () => {
    const error = errorOf(send(createTelnyxParser(), mediaMessage('inbound', 1)));
    expect([error.code, error.message]).toEqual(['INVALID_PAYLOAD', 'media before start']);
  });

  it('refuses a second start', () => {
    expect(errorOf(send(started(), startMessage())).message).toBe('start received twice');
  });

  it('ends the call on stop, and refuses media, start and stop after it', () => {
    for (const after of [mediaMessage('inbound', 1), startMessage(), { event: 'stop' }]) {
      const parser = started();
      expect(send(parser, { event: 'stop', stream_id: STREAM_ID })).toEqual([{ type: 'end', scope: 'call' }]);
      const error = errorOf(send(parser, after));
      expect(error.code).toBe('INVALID_PAYLOAD');
      expect(['media after stop', 'start after stop', 'stop received twice']).toContain(error.message);
    }
  });

  it('ignores a stop before start (nothing started, nothing ends), then refuses a start', () => {
    const parser = createTelnyxParser();
    expect(send(parser, { event: 'stop' })).toEqual([{ type: 'ignored', what: 'stop before start' }]);
    expect(errorOf(send(parser, startMessage())).message).toBe('start after stop');
  });

  it('refuses messages of another stream_id, and accepts them without one', () => {
    const parser = started();
    expect(push(parser, 'inbound', 1)).toEqual(['caller:1']);
    const noId = mediaMessage('inbound', 2);
    delete noId['stream_id'];
    expect(released(send(parser, noId))).toEqual(['caller:2']);
    const error = errorOf(send(parser, mediaMessage('inbound', 3, {}, { stream_id: MARKER })));
    expect(error.message).toBe('stream_id does not match the one in start');
  });

  it('ignores dtmf, mark, error and unknown events at any time', () => {
    const parser = createTelnyxParser();
    expect(send(parser, { event: 'dtmf', dtmf: { digit: '#' } })).toEqual([
      { type: 'ignored', what: 'dtmf' },
    ]);
    expect(send(parser, { event: 'mark', mark: { name: 'x' } })).toEqual([{ type: 'ignored', what: 'mark' }]);
    expect(send(parser, { event: 'error', payload: { code: 100002, title: 'malformed_frame' } })).toEqual([
      { type: 'ignored', what: 'error' },
    ]);
    expect(send(parser, { event: 'x'.repeat(100) })).toEqual([{ type: 'ignored', what: 'x'.repeat(32) }]);
    expect(startOf(send(parser, startMessage())).platformCallId).toBe(CALL_CONTROL_ID);
  });
});

describe('bad messages', () => {
  it('refuses a binary message with UNSUPPORTED_DATA', () => {
    const error = errorOf(createTelnyxParser().parse(Buffer.from('{"event":"media"}'), true));
    expect([error.code, error.closeCode]).toEqual(['UNSUPPORTED_DATA', 1003]);
  });

  it('refuses a message over the size limit with MESSAGE_TOO_BIG, before parsing it', () => {
    const big = `{"event":"x","pad":"${'a'.repeat(TELNYX_MAX_MESSAGE_CHARS)}"}`;
    const error = errorOf(send(createTelnyxParser(), big));
    expect([error.code, error.closeCode]).toEqual(['MESSAGE_TOO_BIG', 1009]);
    const huge = Buffer.alloc(TELNYX_MAX_MESSAGE_CHARS * 4 + 1, 0x61);
    expect(errorOf(createTelnyxParser().parse(huge, false)).code).toBe('MESSAGE_TOO_BIG');
  });

  it.each([
    [`{"event":"${MARKER}"`, 'message is not valid JSON'],
    ['[1,2]', 'message must be a JSON object'],
    ['{"type":"media"}', 'event is required'],
    ['{"event":5}', 'event must be a string'],
  ])('refuses %s as INVALID_PAYLOAD without echoing it', (text, message) => {
    const error = errorOf(send(createTelnyxParser(), text));
    expect([error.code, error.message]).toEqual(['INVALID_PAYLOAD', message]);
  });

  it.each([
    [{ track: MARKER }, 'media.track must be inbound or outbound'],
    [{ track: undefined }, 'media.track must be inbound or outbound'],
    [{ payload: `${MARKER}!!` }, 'media.payload is not valid base64'],
    [{ payload: 'AAE' }, 'media.payload is not valid base64'],
    [{ payload: '' }, 'media.payload is empty'],
    [{ payload: 5 }, 'media.payload must be a string'],
    [{ chunk: undefined }, 'media.chunk is required'],
    [{ chunk: `-${MARKER}` }, 'media.chunk must be a non-negative integer'],
    [{ chunk: '1e3' }, 'media.chunk must be a non-negative integer'],
    [{ timestamp: ' 20' }, 'media.timestamp must be a non-negative integer'],
  ])('refuses media with %j as INVALID_PAYLOAD naming the field', (media, message) => {
    const error = errorOf(send(started(), mediaMessage('inbound', 1, media)));
    expect([error.code, error.message]).toEqual(['INVALID_PAYLOAD', message]);
  });

  it('refuses a media message without its media object', () => {
    expect(errorOf(send(started(), { event: 'media' })).message).toBe('media is required');
  });

  it('refuses an odd byte count of L16 (whole 16-bit samples only)', () => {
    const parser = started({ media_format: { encoding: 'L16', sample_rate: 16000, channels: 1 } });
    const error = errorOf(
      send(parser, mediaMessage('inbound', 1, { payload: Buffer.alloc(641).toString('base64') })),
    );
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.message).toContain('whole 16-bit samples');
  });

  it('accepts up to 1 s of audio in the declared format and refuses more with MESSAGE_TOO_BIG', () => {
    const mulaw = started();
    expect(
      send(mulaw, mediaMessage('inbound', 1, { payload: Buffer.alloc(8000).toString('base64') })),
    ).toHaveLength(1);
    for (const bytes of [8001, 20_000]) {
      const error = errorOf(
        send(started(), mediaMessage('inbound', 1, { payload: Buffer.alloc(bytes).toString('base64') })),
      );
      expect([error.code, error.message]).toEqual([
        'MESSAGE_TOO_BIG',
        'media.payload exceeds 8000 bytes (1 s of audio)',
      ]);
    }
    const l16 = started({ media_format: { encoding: 'L16', sample_rate: 16000 } });
    expect(
      send(l16, mediaMessage('inbound', 1, { payload: Buffer.alloc(32000).toString('base64') })),
    ).toHaveLength(1);
    expect(
      errorOf(send(l16, mediaMessage('inbound', 2, { payload: Buffer.alloc(32002).toString('base64') })))
        .code,
    ).toBe('MESSAGE_TOO_BIG');
  });

  it('hands L16 payloads over as they came (big-endian: pcm16be)', () => {
    const parser = started({ media_format: { encoding: 'L16', sample_rate: 16000 } });
    const wire = Buffer.from([0x03, 0xe8, 0xfc, 0x18]); // 1000, -1000 in network byte order
    const events = send(parser, mediaMessage('outbound', 1, { payload: wire.toString('base64') }));
    expect(events).toEqual([{ type: 'audio', participant: 'agent', payload: wire }]);
  });

  it('after an error keeps answering with it, and flushes nothing', () => {
    const parser = started();
    send(parser, mediaMessage('inbound', 2)); // held: waits for chunk 1
    const error = errorOf(send(parser, 'not json'));
    expect(errorOf(send(parser, mediaMessage('inbound', 1)))).toBe(error);
    expect(errorOf(parser.parse(Buffer.from('x'), true))).toBe(error);
    expect(parser.flush()).toEqual([]);
  });

  it('leaves its state unchanged when it refuses a start', () => {
    const parser = createTelnyxParser();
    errorOf(send(parser, startMessage({ media_format: { encoding: 'PCMU', sample_rate: 1 } })));
    // The parser is not called again after an error; if it were, it would repeat the error.
    expect(errorOf(send(parser, startMessage())).message).toContain('sample_rate');
  });
});

describe('putting chunks back in order', () => {
  it('releases chunks that come in order at once', () => {
    const parser = started();
    for (let c = 1; c <= 10; c++) expect(push(parser, 'inbound', c)).toEqual([`caller:${c}`]);
  });

  it('holds a chunk that overtook the one before it and releases the run when the gap fills', () => {
    const parser = started();
    expect(push(parser, 'inbound', 1)).toEqual(['caller:1']);
    expect(push(parser, 'inbound', 3)).toEqual([]);
    expect(push(parser, 'inbound', 4)).toEqual([]);
    expect(push(parser, 'inbound', 2)).toEqual(['caller:2', 'caller:3', 'caller:4']);
    expect(push(parser, 'inbound', 5)).toEqual(['caller:5']);
  });

  it('waits for a first chunk that was overtaken', () => {
    const parser = started();
    expect(push(parser, 'outbound', 2)).toEqual([]);
    expect(push(parser, 'outbound', 1)).toEqual(['agent:1', 'agent:2']);
  });

  it(`skips a gap still open when more than ${TELNYX_REORDER_WINDOW_CHUNKS} chunks wait, and drops the missing chunk if it comes later`, () => {
    const parser = started();
    expect(push(parser, 'inbound', 1)).toEqual(['caller:1']);
    for (let c = 3; c < 3 + TELNYX_REORDER_WINDOW_CHUNKS; c++) expect(push(parser, 'inbound', c)).toEqual([]);
    expect(push(parser, 'inbound', 8)).toEqual([
      'caller:3',
      'caller:4',
      'caller:5',
      'caller:6',
      'caller:7',
      'caller:8',
    ]);
    expect(push(parser, 'inbound', 2)).toEqual([]);
    expect(push(parser, 'inbound', 9)).toEqual(['caller:9']);
  });

  it('skips only up to the next gap when the window overflows', () => {
    const parser = started();
    push(parser, 'inbound', 1);
    for (const c of [3, 4, 6, 7, 8]) expect(push(parser, 'inbound', c)).toEqual([]);
    expect(push(parser, 'inbound', 9)).toEqual(['caller:3', 'caller:4']);
    expect(push(parser, 'inbound', 5)).toEqual(['caller:5', 'caller:6', 'caller:7', 'caller:8', 'caller:9']);
  });

  it('drops duplicates, of a released chunk or of a held one', () => {
    const parser = started();
    push(parser, 'inbound', 1);
    expect(push(parser, 'inbound', 1)).toEqual([]);
    expect(push(parser, 'inbound', 3)).toEqual([]);
    expect(push(parser, 'inbound', 3)).toEqual([]);
    expect(push(parser, 'inbound', 2)).toEqual(['caller:2', 'caller:3']);
  });

  it('orders each track on its own', () => {
    const parser = started();
    expect(push(parser, 'inbound', 1)).toEqual(['caller:1']);
    expect(push(parser, 'outbound', 1)).toEqual(['agent:1']);
    expect(push(parser, 'inbound', 3)).toEqual([]);
    expect(push(parser, 'outbound', 2)).toEqual(['agent:2']);
    expect(push(parser, 'outbound', 3)).toEqual(['agent:3']);
    expect(push(parser, 'inbound', 2)).toEqual(['caller:2', 'caller:3']);
  });

  it('under per-track counting, still waits for a gap the other track happens to have numbers for', () => {
    const parser = started();
    for (let c = 1; c <= 4; c++) {
      push(parser, 'inbound', c);
      push(parser, 'outbound', c);
    }
    expect(push(parser, 'inbound', 6)).toEqual([]);
    expect(push(parser, 'outbound', 5)).toEqual(['agent:5']);
    expect(push(parser, 'inbound', 5)).toEqual(['caller:5', 'caller:6']);
  });

  it('under one counter shared by both tracks, releases every chunk at once once that is evident', () => {
    const parser = started();
    const heard: string[] = [];
    for (let c = 1; c <= 40; c++) {
      const track = c % 3 === 0 ? 'outbound' : 'inbound'; // irregular interleaving
      const events = push(parser, track, c);
      // Until each track has shown a few chunks, a gap might be a late chunk: it is waited for.
      if (c > 12) expect(events).toEqual([`${track === 'inbound' ? 'caller' : 'agent'}:${c}`]);
      heard.push(...events);
    }
    heard.push(...released(parser.flush()));
    const expected = (participant: string, track: boolean) =>
      Array.from({ length: 40 }, (_, i) => i + 1)
        .filter((c) => (c % 3 === 0) === track)
        .map((c) => `${participant}:${c}`);
    expect(heard.filter((h) => h.startsWith('caller'))).toEqual(expected('caller', false));
    expect(heard.filter((h) => h.startsWith('agent'))).toEqual(expected('agent', true));
  });

  it('under a shared counter, releases a chunk once the other track shows the number it waited for', () => {
    const parser = started();
    for (let c = 1; c <= 8; c++) push(parser, c % 2 === 1 ? 'inbound' : 'outbound', c);
    expect(push(parser, 'inbound', 9)).toEqual(['caller:9']);
    expect(push(parser, 'inbound', 11)).toEqual([]); // 10 unseen: a gap, for now
    expect(push(parser, 'outbound', 10)).toEqual(['agent:10', 'caller:11']);
    expect(push(parser, 'outbound', 12)).toEqual(['agent:12']);
  });

  it('starts a track over when its counter goes back far (a restarted stream)', () => {
    const parser = started();
    for (let c = 1; c <= 100; c++) push(parser, 'inbound', c);
    expect(push(parser, 'inbound', 1)).toEqual(['caller:1']);
    expect(push(parser, 'inbound', 2)).toEqual(['caller:2']);
  });

  it('takes a track that joins late with a high chunk number as it comes', () => {
    const parser = started();
    expect(push(parser, 'outbound', 200)).toEqual(['agent:200']);
    expect(push(parser, 'outbound', 201)).toEqual(['agent:201']);
  });

  it('releases what it holds, in order, on flush and before the end on stop', () => {
    const flushed = started();
    push(flushed, 'inbound', 1);
    push(flushed, 'outbound', 1);
    push(flushed, 'inbound', 4);
    push(flushed, 'inbound', 3);
    push(flushed, 'outbound', 3);
    expect(released(flushed.flush())).toEqual(['caller:3', 'caller:4', 'agent:3']);
    expect(flushed.flush()).toEqual([]);

    const stopped = started();
    push(stopped, 'inbound', 1);
    push(stopped, 'inbound', 3);
    const events = send(stopped, { event: 'stop', stream_id: STREAM_ID });
    expect(events.map((e) => e.type)).toEqual(['audio', 'end']);
    expect(released(events.slice(0, 1))).toEqual(['caller:3']);
    expect(stopped.flush()).toEqual([]);
  });

  it('delivers every chunk once, in order, whatever their order within the window (property)', () => {
    // Each chunk displaced by at most 2 places: within the window, so nothing is lost.
    const arrival = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 60 }).map((delays) =>
      delays
        .map((delay, i) => ({ chunk: i + 1, key: i + delay + 0.5 * Math.sign(delay) }))
        .sort((a, b) => a.key - b.key)
        .map((x) => x.chunk),
    );
    fc.assert(
      fc.property(arrival, arrival, (inbound, outbound) => {
        const parser = started();
        const heard: Record<string, number[]> = { caller: [], agent: [] };
        const n = Math.max(inbound.length, outbound.length);
        const collect = (events: readonly StreamEvent[]) => {
          for (const e of events) if (e.type === 'audio') heard[e.participant!].push(e.payload[0]);
        };
        for (let i = 0; i < n; i++) {
          if (i < inbound.length) collect(send(parser, mediaMessage('inbound', inbound[i])));
          if (i < outbound.length) collect(send(parser, mediaMessage('outbound', outbound[i])));
        }
        collect(parser.flush());
        expect(heard['caller']).toEqual(inbound.map((_, i) => (i + 1) & 0xff));
        expect(heard['agent']).toEqual(outbound.map((_, i) => (i + 1) & 0xff));
      }),
      { numRuns: 300 },
    );
  });

  it('delivers every chunk once, in order, under one counter shared by both tracks too (property)', () => {
    // One counter over both tracks, each chunk on a random track, displaced by at most 2 places.
    const stream = fc
      .array(fc.record({ delay: fc.integer({ min: 0, max: 2 }), outbound: fc.boolean() }), {
        minLength: 1,
        maxLength: 120,
      })
      .map((chunks) =>
        chunks
          .map(({ delay, outbound }, i) => ({
            chunk: i + 1,
            outbound,
            key: i + delay + 0.5 * Math.sign(delay),
          }))
          .sort((a, b) => a.key - b.key),
      );
    fc.assert(
      fc.property(stream, (arrivals) => {
        const parser = started();
        const heard: Record<string, number[]> = { caller: [], agent: [] };
        const collect = (events: readonly StreamEvent[]) => {
          for (const e of events) if (e.type === 'audio') heard[e.participant!].push(e.payload[0]);
        };
        for (const { chunk, outbound } of arrivals) {
          collect(send(parser, mediaMessage(outbound ? 'outbound' : 'inbound', chunk)));
        }
        collect(parser.flush());
        // A track whose first chunk is numbered past the window joined late: it starts from that
        // chunk, and an earlier one of it overtaken by it is not waited for (the one loss allowed).
        const expected = (outbound: boolean) => {
          const mine = arrivals.filter((a) => a.outbound === outbound);
          const first = mine.length > 0 ? mine[0].chunk : 0;
          const from = first > TELNYX_REORDER_WINDOW_CHUNKS + 1 ? first : 0;
          return mine
            .map((a) => a.chunk)
            .filter((c) => c >= from)
            .sort((a, b) => a - b)
            .map((c) => c & 0xff);
        };
        expect(heard['caller']).toEqual(expected(false));
        expect(heard['agent']).toEqual(expected(true));
      }),
      { numRuns: 500 },
    );
  });

  it('never releases a chunk twice or out of order, whatever arrives (property)', () => {
    const media = fc.array(fc.record({ outbound: fc.boolean(), chunk: fc.integer({ min: 0, max: 45 }) }), {
      maxLength: 120,
    });
    fc.assert(
      fc.property(media, (messages) => {
        const parser = started();
        const heard: Record<string, number[]> = { caller: [], agent: [] };
        const sent: Record<string, Set<number>> = { caller: new Set(), agent: new Set() };
        const collect = (events: readonly StreamEvent[]) => {
          for (const e of events) if (e.type === 'audio') heard[e.participant!].push(e.payload[0]);
        };
        for (const { outbound, chunk } of messages) {
          sent[outbound ? 'agent' : 'caller'].add(chunk);
          const events = send(parser, mediaMessage(outbound ? 'outbound' : 'inbound', chunk));
          expectWellFormed(events, RULES);
          // What one message releases is bounded by what two tracks may hold.
          expect(events.length).toBeLessThanOrEqual(2 * (TELNYX_REORDER_WINDOW_CHUNKS + 1));
          collect(events);
        }
        const flushed = parser.flush();
        expect(flushed.length).toBeLessThanOrEqual(2 * TELNYX_REORDER_WINDOW_CHUNKS);
        collect(flushed);
        for (const participant of ['caller', 'agent']) {
          const got = heard[participant];
          for (let i = 1; i < got.length; i++) expect(got[i]).toBeGreaterThan(got[i - 1]);
          for (const c of got) expect(sent[participant].has(c)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('never throws on content (property)', () => {
  const session = sessionMessages('telnyx');

  it('turns random text, binary and JSON-shaped messages into well-formed events', () => {
    const jsonShaped = fc.record({
      event: fc.constantFrom('connected', 'start', 'media', 'stop', 'dtmf', 'mark', 'error', 'x'),
      start: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue()), { nil: undefined }),
      media: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue()), { nil: undefined }),
      stream_id: fc.option(fc.jsonValue(), { nil: undefined }),
    });
    assertRandomMessages({
      parser: () => createTelnyxParser(),
      message: anyMessage(jsonShaped, { maxBinaryBytes: 200, session }),
      rules: RULES,
      maxMessages: 25,
      numRuns: 500,
    });
  });

  it('handles the recorded session cut at any point, with any field of one message replaced', () => {
    assertSessionWithOneFieldReplaced({
      parser: () => createTelnyxParser(),
      session,
      paths: ['event', 'stream_id', 'media', 'media.track', 'media.chunk', 'media.payload', 'start'],
      rules: RULES,
      numRuns: 300,
    });
  });
});
