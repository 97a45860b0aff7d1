import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyMessage,
  assertAudioSurvivesSplitting,
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
  textMessage,
} from '../../test/helpers/parser-properties.js';
import type { ErrorCode } from '../domain/error-code.js';
import {
  createExotelParser,
  EXOTEL_MAX_MESSAGE_CHARS,
  EXOTEL_SAMPLE_RATES,
  exotelHandshakeCredential,
} from './exotel.js';
import type { Handshake, PlatformParser, StreamEvent } from './platform-stream.js';

type Json = Record<string, unknown>;

const STREAM_SID = 'b2c6f9e0a4d84c3e9f1a7d5b8c0e2f41';
const CALL_SID = '2f3a9c1e7b5d4e8fa6c0b9d1e3f5a7c2';
const SILENCE_20MS = Buffer.alloc(320);

function handshake(query: Record<string, string> = {}, headers: Handshake['headers'] = {}): Handshake {
  return { query: new URLSearchParams(query), headers };
}

function text(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message));
}

function startMessage(start: Json = {}, outer: Json = {}): Json {
  return {
    event: 'start',
    sequence_number: '1',
    stream_sid: STREAM_SID,
    start: {
      stream_sid: STREAM_SID,
      call_sid: CALL_SID,
      account_sid: 'acmecorp1',
      from: '+919876543210',
      to: '+918047491899',
      custom_parameters: { call_id: 'call-1', token: 'secret-token' },
      media_format: { encoding: 'base64', sample_rate: '8000', bit_rate: '128kbps' },
      ...start,
    },
    ...outer,
  };
}

function mediaMessage(media: Json = {}, outer: Json = {}): Json {
  return {
    event: 'media',
    sequence_number: '2',
    stream_sid: STREAM_SID,
    media: { chunk: '1', timestamp: '0', payload: SILENCE_20MS.toString('base64'), ...media },
    ...outer,
  };
}

function started(start: Json = {}, query: Record<string, string> = {}): PlatformParser {
  const parser = createExotelParser(handshake(query));
  parser.parse(text({ event: 'connected' }), false);
  const events = parser.parse(text(startMessage(start)), false);
  expect(events.map((e) => e.type)).toEqual(['start']);
  return parser;
}

/**
 * What Exotel's events may be: the caller, and the agent where start.tracks announces it; 16-bit PCM
 * or μ-law at Exotel's rates; a stop that ends the call.
 */
const RULES: EventRules = {
  participants: ['caller', 'agent'],
  encodings: ['pcm16', 'mulaw'],
  ratesHz: EXOTEL_SAMPLE_RATES,
  endScope: 'call',
  closeCodes: [1003, 1007, 1009],
};

describe('Exotel: the fixture session', () => {
  const lines = readSessionLines('exotel', { call_id: 'order-1234', token: 'eik_test' });
  const [first, ...messages] = lines;

  it('opens with the handshake, then text messages in real-time order', () => {
    expect(first.handshake?.path).toBe('/ws/exotel');
    expect(first.handshake?.query).toEqual({
      'sample-rate': '8000',
      call_id: 'order-1234',
      token: 'eik_test',
    });
    let at = 0;
    for (const line of messages) {
      expect(line.t).toBeDefined();
      expect(line.at).toBeGreaterThanOrEqual(at);
      at = line.at ?? at;
    }
    expect(at).toBe(3000);
  });

  it('parses every message in order into exactly the expected events', () => {
    const parser = createExotelParser(handshake(first.handshake?.query));
    const events = messages.map((line) => parser.parse(text(line.t), false));
    const types = events.map((e) => e.map((x) => x.type).join(','));
    expect(types[0]).toBe('ignored');
    expect(types[1]).toBe('start');
    expect(types.slice(2, -1).filter((t) => t === 'audio')).toHaveLength(150);
    expect(types.at(-1)).toBe('end');

    expect(events[0]).toEqual([{ type: 'ignored', what: 'connected' }]);
    expect(startOf(events[1])).toEqual({
      type: 'start',
      callId: 'order-1234',
      platformCallId: CALL_SID,
      credential: 'eik_test',
      participants: ['caller'],
      interleaved: false,
      format: { encoding: 'pcm16', sampleRateHz: 8000 },
      from: '+919876543210',
      to: '+918047491899',
    });
    const audio: Buffer[] = [];
    for (const [i, line] of messages.entries()) {
      const message = line.t as { event: string; media?: { payload: string } };
      if (message.event === 'media') {
        expect(events[i]).toEqual([
          { type: 'audio', participant: 'caller', payload: Buffer.from(message.media!.payload, 'base64') },
        ]);
        audio.push(Buffer.from(message.media!.payload, 'base64'));
      } else if (message.event === 'dtmf' || message.event === 'mark') {
        expect(events[i]).toEqual([{ type: 'ignored', what: message.event }]);
      }
    }
    expect(events.at(-1)).toEqual([{ type: 'end', scope: 'call' }]);
    expect(parser.flush()).toEqual([]);

    // The caller's audio is the tone the README promises: 3 s of 600 Hz at -12 dBFS.
    const all = Buffer.concat(audio);
    const samples = new Int16Array(all.buffer, all.byteOffset, all.length / 2);
    expectFixtureTone(samples, { freqHz: 600, rateHz: 8000, seconds: 3 });
  });

  it('parses every JSON example of the README, in order', () => {
    const parser = createExotelParser(handshake());
    const events = readmeJsonExamples('exotel').map((example) => only(parser.parse(text(example), false)));
    expect(events.map((e) => e.type)).toEqual(['ignored', 'start', 'audio', 'ignored', 'ignored', 'end']);
    expect(events[1]).toMatchObject({ callId: 'order-1234', credential: 'example-ingest-token' });
    expect(events[2]).toMatchObject({ participant: 'caller', payload: SILENCE_20MS });
  });
});

describe('Exotel: encodings and rates', () => {
  it.each<[string, Json | undefined, Record<string, string>, string, number]>([
    ['no media_format', undefined, {}, 'pcm16', 8000],
    ['no media_format, ?sample-rate=16000', undefined, { 'sample-rate': '16000' }, 'pcm16', 16000],
    ['no media_format, ?sample_rate=24000', undefined, { sample_rate: '24000' }, 'pcm16', 24000],
    [
      'the protocol page',
      { encoding: 'audio/x-raw', sample_rate: '8000', bit_rate: '16' },
      {},
      'pcm16',
      8000,
    ],
    ['the applet page', { encoding: 'raw', sample_rate: '8000', bit_rate: '128' }, {}, 'pcm16', 8000],
    ['the reference repo', { encoding: 'linear16', sample_rate: 8000, bit_rate: 16 }, {}, 'pcm16', 8000],
    ['live streams', { encoding: 'base64', sample_rate: '8000', bit_rate: '128kbps' }, {}, 'pcm16', 8000],
    ['base64 at 64 kbps', { encoding: 'base64', sample_rate: '8000', bit_rate: '64kbps' }, {}, 'mulaw', 8000],
    ['base64 with bit_rate 8', { encoding: 'base64', sample_rate: '8000', bit_rate: '8' }, {}, 'mulaw', 8000],
    [
      'base64 at 16 kHz',
      { encoding: 'base64', sample_rate: '16000', bit_rate: '256kbps' },
      {},
      'pcm16',
      16000,
    ],
    ['base64, no bit_rate', { encoding: 'base64' }, { 'sample-rate': '16000' }, 'pcm16', 16000],
    ['base64, a bit_rate of no use', { encoding: 'base64', bit_rate: 'fast' }, {}, 'pcm16', 8000],
    ['the Beta default', { encoding: 'audio/x-mulaw;rate=8000' }, {}, 'mulaw', 8000],
    ['Beta PCM 8 kHz', { encoding: 'audio/L16;rate=8000' }, {}, 'pcm16', 8000],
    ['Beta PCM 16 kHz', { encoding: 'audio/L16; rate=16000' }, {}, 'pcm16', 16000],
    ['upper-case μ-law', { encoding: 'AUDIO/X-MULAW' }, { 'sample-rate': '8000' }, 'mulaw', 8000],
    ['pcmu', { encoding: 'PCMU' }, {}, 'mulaw', 8000],
    ['a rate only', { sample_rate: '24000' }, {}, 'pcm16', 24000],
    ['a rate in Hz', { encoding: 'raw', sample_rate: '16000 Hz' }, {}, 'pcm16', 16000],
    [
      'media_format over the URL',
      { encoding: 'raw', sample_rate: '16000' },
      { 'sample-rate': '8000' },
      'pcm16',
      16000,
    ],
    ['agreeing rates', { encoding: 'audio/L16;rate=16000', sample_rate: 16000 }, {}, 'pcm16', 16000],
    ['camelCase', { encoding: 'raw', sampleRate: 24000 }, {}, 'pcm16', 24000],
  ])('%s → %s', (_what, mediaFormat, query, encoding, sampleRateHz) => {
    const parser = createExotelParser(handshake(query));
    const event = startOf(parser.parse(text(startMessage({ media_format: mediaFormat })), false));
    expect(event.format).toEqual({ encoding, sampleRateHz });
  });

  it('reads a start written in camelCase', () => {
    const parser = createExotelParser(handshake());
    const message = {
      event: 'start',
      streamSid: STREAM_SID,
      start: {
        streamSid: STREAM_SID,
        callSid: CALL_SID,
        customParameters: { token: 't' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000 },
      },
    };
    expect(startOf(parser.parse(text(message), false))).toMatchObject({
      platformCallId: CALL_SID,
      credential: 't',
      format: { encoding: 'mulaw', sampleRateHz: 8000 },
    });
    expect(
      only(parser.parse(text(mediaMessage({}, { stream_sid: undefined, streamSid: STREAM_SID })), false))
        .type,
    ).toBe('audio');
  });

  it.each<[string, number]>([
    ['pcm16', 8000],
    ['pcm16', 16000],
    ['pcm16', 24000],
    ['mulaw', 8000],
  ])('accepts up to exactly 1 s of %s at %i Hz, whole samples only', (encoding, rate) => {
    const mediaFormat =
      encoding === 'mulaw'
        ? { encoding: 'audio/x-mulaw', sample_rate: rate }
        : { encoding: 'raw', sample_rate: rate };
    const bytesPerSample = encoding === 'mulaw' ? 1 : 2;
    const oneSecond = rate * bytesPerSample;
    const parser = () => started({ media_format: mediaFormat });
    const payloadOf = (n: number) => Buffer.alloc(n, 0x55).toString('base64');

    const full = only(parser().parse(text(mediaMessage({ payload: payloadOf(oneSecond) })), false));
    expect(full.type === 'audio' && full.payload.length).toBe(oneSecond);
    expect(
      errorOf(parser().parse(text(mediaMessage({ payload: payloadOf(oneSecond + bytesPerSample) })), false))
        .code,
    ).toBe('MESSAGE_TOO_BIG');
    const odd = parser().parse(text(mediaMessage({ payload: payloadOf(3) })), false);
    if (encoding === 'mulaw') expect(only(odd).type).toBe('audio');
    else expect(errorOf(odd).message).toBe('media.payload must be whole 16-bit samples');
  });

  it('keeps 1 s of 24 kHz PCM inside one text message', () => {
    const payload = Buffer.alloc(48_000).toString('base64');
    expect(JSON.stringify(mediaMessage({ payload })).length).toBeLessThan(EXOTEL_MAX_MESSAGE_CHARS);
  });
});

describe('Exotel: the call, its credential and its tracks', () => {
  it('takes the call id and credential from the custom parameters, and the CallSid as the platform id', () => {
    const parser = createExotelParser(handshake());
    expect(startOf(parser.parse(text(startMessage()), false))).toMatchObject({
      callId: 'call-1',
      platformCallId: CALL_SID,
      credential: 'secret-token',
    });
  });

  it('leaves the call id and credential null without custom parameters', () => {
    for (const custom_parameters of [undefined, null, {}, { campaign: 'x' }]) {
      const parser = createExotelParser(handshake());
      expect(startOf(parser.parse(text(startMessage({ custom_parameters })), false))).toMatchObject({
        callId: null,
        platformCallId: CALL_SID,
        credential: null,
      });
    }
  });

  it("uses custom parameters a connected message carried, where start's lack them", () => {
    const parser = createExotelParser(handshake());
    parser.parse(
      text({ event: 'connected', custom_parameters: { call_id: 'from-connected', token: 'tk' } }),
      false,
    );
    const event = startOf(
      parser.parse(text(startMessage({ custom_parameters: { call_id: 'from-start' } })), false),
    );
    expect(event).toMatchObject({ callId: 'from-start', credential: 'tk' });
  });

  it('reports from and to, or null', () => {
    const none = createExotelParser(handshake());
    expect(startOf(none.parse(text(startMessage({ from: undefined, to: '' })), false))).toMatchObject({
      from: null,
      to: null,
    });
  });

  it('maps untagged and inbound media to caller, and ignores outbound media start did not announce', () => {
    const parser = started();
    expect(only(parser.parse(text(mediaMessage()), false))).toMatchObject({ participant: 'caller' });
    expect(only(parser.parse(text(mediaMessage({ track: 'inbound' })), false))).toMatchObject({
      participant: 'caller',
    });
    expect(parser.parse(text(mediaMessage({ track: 'outbound' })), false)).toEqual([
      { type: 'ignored', what: 'media outbound' },
    ]);
    expect(only(parser.parse(text(mediaMessage()), false)).type).toBe('audio');
  });

  it('ignores the caller track when start.tracks announced only outbound', () => {
    const parser = createExotelParser(handshake());
    expect(startOf(parser.parse(text(startMessage({ tracks: ['outbound'] })), false)).participants).toEqual([
      'agent',
    ]);
    expect(parser.parse(text(mediaMessage()), false)).toEqual([{ type: 'ignored', what: 'media inbound' }]);
    expect(only(parser.parse(text(mediaMessage({ track: 'outbound' })), false)).type).toBe('audio');
  });

  it.each([[['inbound', 'outbound']], [['both']]])(
    'feeds agent from outbound media when start.tracks is %j',
    (tracks) => {
      const parser = createExotelParser(handshake());
      expect(startOf(parser.parse(text(startMessage({ tracks })), false)).participants).toEqual([
        'caller',
        'agent',
      ]);
      expect(only(parser.parse(text(mediaMessage({ track: 'outbound' })), false))).toMatchObject({
        type: 'audio',
        participant: 'agent',
      });
    },
  );

  it('ignores dtmf, mark, clear and unknown events at any time', () => {
    const parser = started();
    for (const event of ['dtmf', 'mark', 'clear', 'silence']) {
      expect(parser.parse(text({ event, stream_sid: STREAM_SID }), false)).toEqual([
        { type: 'ignored', what: event },
      ]);
    }
    expect(parser.parse(text({ event: 'x'.repeat(100) }), false)).toEqual([
      { type: 'ignored', what: 'x'.repeat(32) },
    ]);
  });

  it('ends the call on stop, with or without its details', () => {
    for (const stop of [{ call_sid: CALL_SID, reason: 'stopped' }, undefined, null]) {
      const parser = started();
      expect(parser.parse(text({ event: 'stop', stream_sid: STREAM_SID, stop }), false)).toEqual([
        { type: 'end', scope: 'call' },
      ]);
      expect(errorOf(parser.parse(text(mediaMessage()), false)).message).toBe('media after stop');
    }
  });

  it('ignores a stop before start, and refuses what follows it', () => {
    const parser = createExotelParser(handshake());
    expect(parser.parse(text({ event: 'stop' }), false)).toEqual([
      { type: 'ignored', what: 'stop before start' },
    ]);
    expect(errorOf(parser.parse(text(startMessage()), false)).message).toBe('start after stop');
  });

  it('returns its error again if called after it', () => {
    const parser = createExotelParser(handshake());
    const first = parser.parse(text(mediaMessage()), false);
    expect(errorOf(first).message).toBe('media before start');
    expect(parser.parse(text(startMessage()), false)).toBe(first);
    expect(parser.flush()).toEqual([]);
  });
});

describe('Exotel: exotelHandshakeCredential', () => {
  const basic = (pair: string) => ({ authorization: `Basic ${Buffer.from(pair).toString('base64')}` });
  it.each<[string, Handshake['headers'], string | null]>([
    ['Basic user:password', basic('exotel:eik_abc'), 'eik_abc'],
    ['a password with a colon', basic('u:a:b'), 'a:b'],
    ['no password', basic('exotel:'), null],
    ['no colon', basic('eik_abc'), null],
    ['a Bearer header', { authorization: 'Bearer eik_abc' }, null],
    ['bad base64', { authorization: 'Basic ***' }, null],
    ['no header', {}, null],
    ['an array', { authorization: [basic('x:tok').authorization] }, 'tok'],
  ])('%s', (_what, headers, expected) => {
    expect(exotelHandshakeCredential(handshake({}, headers))).toBe(expected);
  });
});

describe('Exotel: bad input', () => {
  const MARK = 'EVIL\u202e<script>';
  const withStart =
    (start: Json, outer: Json = {}) =>
    () =>
      createExotelParser(handshake()).parse(text(startMessage(start, outer)), false);
  const withMedia =
    (media: Json, outer: Json = {}) =>
    () =>
      started().parse(text(mediaMessage(media, outer)), false);
  const raw =
    (data: string | Buffer, isBinary = false, query: Record<string, string> = {}) =>
    () =>
      createExotelParser(handshake(query)).parse(
        typeof data === 'string' ? Buffer.from(data) : data,
        isBinary,
      );

  it.each<[string, () => readonly StreamEvent[], keyof typeof ErrorCode, string | RegExp]>([
    [
      'a binary message',
      raw(text(mediaMessage()), true),
      'UNSUPPORTED_DATA',
      'Exotel messages must be text (JSON)',
    ],
    ['malformed JSON', raw(`{"event":"${MARK}",`), 'INVALID_PAYLOAD', 'message is not valid JSON'],
    ['a JSON array', raw('[1]'), 'INVALID_PAYLOAD', 'message must be a JSON object'],
    ['no event', raw('{"media":{}}'), 'INVALID_PAYLOAD', 'event is required'],
    ['a non-string event', raw('{"event":7}'), 'INVALID_PAYLOAD', 'event must be a string'],
    ['media before start', raw(text(mediaMessage())), 'INVALID_PAYLOAD', 'media before start'],
    [
      'a second start',
      () => started().parse(text(startMessage()), false),
      'INVALID_PAYLOAD',
      'start received twice',
    ],
    ['start without start', raw('{"event":"start"}'), 'INVALID_PAYLOAD', 'start is required'],
    [
      'start without call_sid',
      withStart({ call_sid: undefined }),
      'INVALID_PAYLOAD',
      'start.call_sid is required',
    ],
    ['a numeric call_sid', withStart({ call_sid: 7 }), 'INVALID_PAYLOAD', 'start.call_sid must be a string'],
    ['a bad call_sid', withStart({ call_sid: MARK }), 'INVALID_PAYLOAD', /^start\.call_sid must be 1-128/],
    ['an empty call_sid', withStart({ call_sid: '' }), 'INVALID_PAYLOAD', /^start\.call_sid must be 1-128/],
    [
      'a bad call_id',
      withStart({ custom_parameters: { call_id: MARK } }),
      'INVALID_PAYLOAD',
      /^start\.custom_parameters\.call_id must be 1-128/,
    ],
    [
      "call_id '..'",
      withStart({ custom_parameters: { call_id: '..' } }),
      'INVALID_PAYLOAD',
      /not '\.' or '\.\.'/,
    ],
    [
      'a numeric call_id',
      withStart({ custom_parameters: { call_id: 42 } }),
      'INVALID_PAYLOAD',
      'start.custom_parameters.call_id must be a string',
    ],
    [
      'a numeric token',
      withStart({ custom_parameters: { token: 42 } }),
      'INVALID_PAYLOAD',
      'start.custom_parameters.token must be a string',
    ],
    [
      'an empty token',
      withStart({ custom_parameters: { token: '' } }),
      'INVALID_PAYLOAD',
      'start.custom_parameters.token must not be empty',
    ],
    [
      'custom_parameters not an object',
      withStart({ custom_parameters: MARK }),
      'INVALID_PAYLOAD',
      'start.custom_parameters must be an object',
    ],
    ['a numeric from', withStart({ from: 919876543210 }), 'INVALID_PAYLOAD', 'start.from must be a string'],
    [
      'media_format not an object',
      withStart({ media_format: 'raw' }),
      'INVALID_PAYLOAD',
      'start.media_format must be an object',
    ],
    [
      'a numeric encoding',
      withStart({ media_format: { encoding: 16 } }),
      'INVALID_PAYLOAD',
      'start.media_format.encoding must be a string',
    ],
    [
      'A-law',
      withStart({ media_format: { encoding: 'audio/x-alaw;rate=8000' } }),
      'UNSUPPORTED_DATA',
      "start.media_format.encoding 'audio/x-alaw' is not supported (16-bit PCM or mu-law)",
    ],
    [
      'an encoding not fit to quote',
      withStart({ media_format: { encoding: MARK } }),
      'UNSUPPORTED_DATA',
      'start.media_format.encoding (unrecognised) is not supported (16-bit PCM or mu-law)',
    ],
    [
      'a malformed rate parameter',
      withStart({ media_format: { encoding: 'audio/L16;rate=fast' } }),
      'INVALID_PAYLOAD',
      'start.media_format.encoding has a malformed rate',
    ],
    [
      'a malformed sample_rate',
      withStart({ media_format: { encoding: 'raw', sample_rate: MARK } }),
      'INVALID_PAYLOAD',
      'start.media_format.sample_rate must be a whole number of Hz',
    ],
    [
      'a fractional sample_rate',
      withStart({ media_format: { encoding: 'raw', sample_rate: 8000.5 } }),
      'INVALID_PAYLOAD',
      'start.media_format.sample_rate must be a whole number of Hz',
    ],
    [
      '44.1 kHz',
      withStart({ media_format: { encoding: 'raw', sample_rate: '44100' } }),
      'UNSUPPORTED_DATA',
      'sample rate 44100 Hz is not supported (8000, 16000 or 24000)',
    ],
    [
      'disagreeing rates',
      withStart({ media_format: { encoding: 'audio/L16;rate=8000', sample_rate: '16000' } }),
      'INVALID_PAYLOAD',
      'start.media_format.sample_rate and the encoding rate disagree',
    ],
    [
      'a malformed ?sample-rate',
      raw('{"event":"connected"}', false, { 'sample-rate': MARK }),
      'INVALID_PAYLOAD',
      '?sample-rate must be 8000, 16000 or 24000',
    ],
    [
      'an unsupported ?sample-rate',
      raw('{"event":"connected"}', false, { 'sample-rate': '11025' }),
      'UNSUPPORTED_DATA',
      'sample rate 11025 Hz is not supported (8000, 16000 or 24000)',
    ],
    [
      'empty tracks',
      withStart({ tracks: [] }),
      'INVALID_PAYLOAD',
      /^start\.tracks must be a non-empty array/,
    ],
    [
      'an unknown track',
      withStart({ tracks: [MARK] }),
      'INVALID_PAYLOAD',
      /^start\.tracks must contain only/,
    ],
    [
      'mismatched stream_sids',
      withStart({}, { stream_sid: 'other' }),
      'INVALID_PAYLOAD',
      'stream_sid does not match start.stream_sid',
    ],
    [
      'media of another stream',
      withMedia({}, { stream_sid: MARK }),
      'INVALID_PAYLOAD',
      'stream_sid does not match the one in start',
    ],
    [
      'media without media',
      () => started().parse(text({ event: 'media' }), false),
      'INVALID_PAYLOAD',
      'media is required',
    ],
    [
      'an unknown track',
      withMedia({ track: MARK }),
      'INVALID_PAYLOAD',
      'media.track must be inbound or outbound',
    ],
    [
      'media without payload',
      withMedia({ payload: undefined }),
      'INVALID_PAYLOAD',
      'media.payload is required',
    ],
    ['a numeric payload', withMedia({ payload: 7 }), 'INVALID_PAYLOAD', 'media.payload must be a string'],
    [
      'garbage in base64',
      withMedia({ payload: 'AAAA*AAA' }),
      'INVALID_PAYLOAD',
      'media.payload is not valid base64',
    ],
    [
      'unpadded base64',
      withMedia({ payload: 'AAAAAA' }),
      'INVALID_PAYLOAD',
      'media.payload is not valid base64',
    ],
    [
      'URL-safe base64',
      withMedia({ payload: 'AA-_' }),
      'INVALID_PAYLOAD',
      'media.payload is not valid base64',
    ],
    ['an empty payload', withMedia({ payload: '' }), 'INVALID_PAYLOAD', 'media.payload is empty'],
    [
      'an odd byte count',
      withMedia({ payload: 'AAAA' }),
      'INVALID_PAYLOAD',
      'media.payload must be whole 16-bit samples',
    ],
    [
      'a bad chunk',
      withMedia({ chunk: '1e3' }),
      'INVALID_PAYLOAD',
      'media.chunk must be a non-negative integer',
    ],
    [
      'a negative timestamp',
      withMedia({ timestamp: -20 }),
      'INVALID_PAYLOAD',
      'media.timestamp must be a non-negative integer',
    ],
    [
      'a payload over 1 s',
      withMedia({ payload: Buffer.alloc(16_002).toString('base64') }),
      'MESSAGE_TOO_BIG',
      'media.payload exceeds 1000 ms of audio',
    ],
    [
      'a grossly oversized payload',
      withMedia({ payload: 'A'.repeat(60_000) }),
      'MESSAGE_TOO_BIG',
      'media.payload exceeds 1000 ms of audio',
    ],
    [
      'a non-object stop',
      () => started().parse(text({ event: 'stop', stop: MARK }), false),
      'INVALID_PAYLOAD',
      'stop must be an object',
    ],
    [
      'a text message above the limit',
      raw(' '.repeat(EXOTEL_MAX_MESSAGE_CHARS + 1)),
      'MESSAGE_TOO_BIG',
      'text message exceeds 65536 characters',
    ],
    [
      'megabytes of text',
      raw(Buffer.alloc(300_000, 0x20)),
      'MESSAGE_TOO_BIG',
      'text message exceeds 65536 characters',
    ],
  ])('refuses %s', (_what, run, code, message) => {
    expectRefusal(run(), code, message, 'EVIL');
  });

  it('refuses media, start and stop after stop', () => {
    const parser = () => {
      const p = started();
      p.parse(text({ event: 'stop' }), false);
      return p;
    };
    expect(errorOf(parser().parse(text(mediaMessage()), false)).message).toBe('media after stop');
    expect(errorOf(parser().parse(text(startMessage()), false)).message).toBe('start after stop');
    expect(errorOf(parser().parse(text({ event: 'stop' }), false)).message).toBe('stop received twice');
  });
});

describe('Exotel: properties', () => {
  const jsonShaped = fc.record(
    {
      event: fc.constantFrom('connected', 'start', 'media', 'dtmf', 'mark', 'stop', 'clear'),
      stream_sid: fc.oneof(fc.constant(STREAM_SID), fc.string()),
      start: fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            call_sid: fc.oneof(fc.constant(CALL_SID), fc.jsonValue()),
            custom_parameters: fc.oneof(
              fc.dictionary(fc.constantFrom('call_id', 'token', 'x'), fc.jsonValue()),
              fc.jsonValue(),
            ),
            media_format: fc.oneof(
              fc.record(
                {
                  encoding: fc.oneof(
                    fc.constantFrom('raw', 'base64', 'audio/x-mulaw;rate=8000', 'audio/L16;rate=16000'),
                    fc.jsonValue(),
                  ),
                  sample_rate: fc.oneof(fc.constantFrom('8000', 16000, '24000', '44100'), fc.jsonValue()),
                  bit_rate: fc.oneof(fc.constantFrom('128kbps', '64kbps', 16), fc.jsonValue()),
                },
                { requiredKeys: [] },
              ),
              fc.jsonValue(),
            ),
            tracks: fc.oneof(fc.constant(['inbound', 'outbound']), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
      ),
      media: fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            track: fc.oneof(fc.constantFrom('inbound', 'outbound'), fc.jsonValue()),
            payload: fc.oneof(
              fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('base64')),
              fc.jsonValue(),
            ),
            chunk: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
      ),
      stop: fc.jsonValue(),
    },
    { requiredKeys: ['event'] },
  );
  const message = anyMessage(jsonShaped, { maxBinaryBytes: 64 });
  const query = fc.oneof(
    fc.constant({}),
    fc.record({ 'sample-rate': fc.oneof(fc.constantFrom('8000', '16000', '24000', '11025'), fc.string()) }),
  );

  it('never throws, and returns only well-formed events, on random messages', () => {
    assertRandomMessages({
      parser: query.map((q) => () => createExotelParser(handshake(q))),
      message,
      rules: RULES,
      maxMessages: 12,
    });
  });

  it('never throws on the valid session cut at a random point and followed by anything', () => {
    assertSessionCutThenAnything({
      parser: () => createExotelParser(handshake({ 'sample-rate': '8000' })),
      session: sessionMessages('exotel'),
      tail: message,
      rules: RULES,
    });
  });

  it('delivers the same audio however it is split across media messages', () => {
    assertAudioSurvivesSplitting({
      parser: () => started(),
      message: (piece) => textMessage(mediaMessage({ payload: piece.toString('base64') })),
      sampleBytes: 2,
      maxPieceSamples: 450,
    });
  });
});
