import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../domain/app-error.js';
import {
  TWILIO_MAX_MESSAGE_CHARS,
  TWILIO_MAX_PAYLOAD_BYTES,
  TwilioMediaStreamParser,
  TwilioStreamState,
} from './twilio-media-stream.js';

const STREAM_SID = 'MZe86e42f9248b23ce36da01180ff7db3b';
const CALL_SID = 'CA810bad11af2855a52a2d2cf14e48e1f6';
const ACCOUNT_SID = 'ACd5c0c48b62d758acdcfb8e451e837b59';
const SILENCE_20MS = Buffer.alloc(160, 0xff);

type Json = Record<string, unknown>;

function startMessage(start: Json = {}): Json {
  return {
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: ACCOUNT_SID,
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      tracks: ['inbound', 'outbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { call_id: 'call-1', token: 'secret-token', locale: 'en' },
      ...start,
    },
    streamSid: STREAM_SID,
  };
}

function mediaMessage(media: Json = {}): Json {
  return {
    event: 'media',
    sequenceNumber: '2',
    media: {
      track: 'inbound',
      chunk: '1',
      timestamp: '5',
      payload: SILENCE_20MS.toString('base64'),
      ...media,
    },
    streamSid: STREAM_SID,
  };
}

function started(): TwilioMediaStreamParser {
  const parser = new TwilioMediaStreamParser();
  parser.parse('{"event":"connected","protocol":"Call","version":"1.0.0"}');
  parser.parse(JSON.stringify(startMessage()));
  return parser;
}

function errorOf(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected an AppError');
}

/** Parses and, on failure, checks the failure is a close-reason-sized AppError. */
function parseOrAppError(parser: TwilioMediaStreamParser, text: string): void {
  try {
    parser.parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect(Buffer.byteLength((err as AppError).message)).toBeLessThanOrEqual(120);
  }
}

describe('TwilioMediaStreamParser: the documented session', () => {
  it('parses every example of test/fixtures/twilio/README.md, in order', () => {
    const readme = readFileSync(new URL('../../test/fixtures/twilio/README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]);
    const parser = new TwilioMediaStreamParser();
    const types = blocks.map((block) => parser.parse(JSON.stringify(JSON.parse(block))).type);
    expect(types).toEqual(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);
    expect(parser.state).toBe(TwilioStreamState.STOPPED);
  });

  it('reports connected with its protocol and version', () => {
    const parser = new TwilioMediaStreamParser();
    expect(parser.parse('{"event":"connected","protocol":"Call","version":"1.0.0"}')).toEqual({
      type: 'connected',
      protocol: 'Call',
      version: '1.0.0',
    });
  });

  it('names the call, its token and its participants from start', () => {
    const parser = new TwilioMediaStreamParser();
    const event = parser.parse(JSON.stringify(startMessage()));
    expect(event).toEqual({
      type: 'start',
      callId: 'call-1',
      token: 'secret-token',
      streamSid: STREAM_SID,
      callSid: CALL_SID,
      accountSid: ACCOUNT_SID,
      tracks: ['inbound', 'outbound'],
      participants: ['caller', 'agent'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRateHz: 8000, channels: 1 },
      customParameters: { call_id: 'call-1', locale: 'en' },
    });
    expect(Object.isFrozen(event)).toBe(true);
    expect(parser.state).toBe(TwilioStreamState.STREAMING);
    expect(parser.startEvent).toBe(event);
  });

  it('names the call by its CallSid and takes the credential from the URL when the parameters leave them out', () => {
    for (const customParameters of [undefined, {}, { locale: 'en' }]) {
      const event = new TwilioMediaStreamParser().parse(JSON.stringify(startMessage({ customParameters })));
      expect(event).toMatchObject({ type: 'start', callId: null, token: null, callSid: CALL_SID });
    }
  });

  it("reads SignalWire's L16 formats from start.mediaFormat and refuses odd byte counts in them", () => {
    for (const sampleRate of [8000, 16000, 24000]) {
      const parser = new TwilioMediaStreamParser();
      const start = startMessage({ mediaFormat: { encoding: 'audio/x-l16', sampleRate, channels: 1 } });
      expect(parser.parse(JSON.stringify(start))).toMatchObject({
        mediaFormat: { encoding: 'audio/x-l16', sampleRateHz: sampleRate, channels: 1 },
      });
      const pcm = Buffer.alloc(sampleRate / 25); // 20 ms of 16-bit samples
      expect(parser.parse(JSON.stringify(mediaMessage({ payload: pcm.toString('base64') })))).toMatchObject({
        type: 'media',
        payload: pcm,
      });
      expect(() =>
        parser.parse(JSON.stringify(mediaMessage({ payload: Buffer.alloc(3).toString('base64') }))),
      ).toThrow('media.payload must hold whole 16-bit samples');
    }
    for (const sampleRate of [11025, 48000]) {
      const start = startMessage({ mediaFormat: { encoding: 'audio/x-l16', sampleRate, channels: 1 } });
      expect(() => new TwilioMediaStreamParser().parse(JSON.stringify(start))).toThrow(/16000 or 24000 Hz/);
    }
  });

  it('keeps a "__proto__" custom parameter as a plain entry', () => {
    const message = JSON.stringify(startMessage()).replace('"locale"', '"__proto__"');
    const event = new TwilioMediaStreamParser().parse(message);
    if (event.type !== 'start') throw new Error('expected start');
    expect(Object.getPrototypeOf(event.customParameters)).toBe(Object.prototype);
    expect(Object.keys(event.customParameters)).toEqual(['call_id', '__proto__']);
  });

  it('maps the inbound track to caller and outbound to agent, decoding the payload', () => {
    const parser = started();
    const inbound = parser.parse(JSON.stringify(mediaMessage({ chunk: '7', timestamp: '140' })));
    expect(inbound).toEqual({
      type: 'media',
      track: 'inbound',
      participant: 'caller',
      chunk: 7,
      timestampMs: 140,
      payload: SILENCE_20MS,
    });
    const outbound = parser.parse(JSON.stringify(mediaMessage({ track: 'outbound' })));
    expect(outbound).toMatchObject({ track: 'outbound', participant: 'agent' });
  });

  it('accepts media on a track start did not announce, and without a streamSid', () => {
    const parser = new TwilioMediaStreamParser();
    parser.parse(JSON.stringify(startMessage({ tracks: ['inbound'] })));
    const { streamSid: _, ...withoutSid } = mediaMessage({ track: 'outbound' });
    expect(parser.parse(JSON.stringify(withoutSid))).toMatchObject({ participant: 'agent' });
  });

  it('reports mark and dtmf', () => {
    const parser = started();
    expect(parser.parse('{"event":"mark","mark":{"name":"my label"}}')).toEqual({
      type: 'mark',
      name: 'my label',
    });
    expect(parser.parse('{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"5"}}')).toEqual({
      type: 'dtmf',
      track: 'inbound_track',
      digit: '5',
    });
  });

  it('reports stop with its sids, or without them', () => {
    const parser = started();
    const stop = {
      event: 'stop',
      stop: { accountSid: ACCOUNT_SID, callSid: CALL_SID },
      streamSid: STREAM_SID,
    };
    expect(parser.parse(JSON.stringify(stop))).toEqual({
      type: 'stop',
      callSid: CALL_SID,
      accountSid: ACCOUNT_SID,
    });
    expect(parser.state).toBe(TwilioStreamState.STOPPED);
    expect(started().parse('{"event":"stop"}')).toEqual({ type: 'stop', callSid: '', accountSid: '' });
  });

  it('ignores unknown events for forward compatibility', () => {
    const parser = started();
    expect(parser.parse('{"event":"clear","streamSid":"MZ"}')).toEqual({ type: 'ignored', event: 'clear' });
    expect(parser.parse(JSON.stringify({ event: 'y'.repeat(200) }))).toEqual({
      type: 'ignored',
      event: 'y'.repeat(32),
    });
    expect(parser.state).toBe(TwilioStreamState.STREAMING);
  });

  it('reads a text frame given as a Buffer', () => {
    const text = JSON.stringify(mediaMessage());
    expect(started().parseFrame(Buffer.from(text), false)).toMatchObject({ type: 'media' });
  });

  it('accepts exactly 1 s of audio in one media message', () => {
    const payload = Buffer.alloc(TWILIO_MAX_PAYLOAD_BYTES, 0x55).toString('base64');
    const event = started().parse(JSON.stringify(mediaMessage({ payload })));
    expect(event.type === 'media' && event.payload.length).toBe(8000);
  });

  it('leaves its state unchanged when it rejects a message', () => {
    const parser = new TwilioMediaStreamParser();
    expect(() => parser.parse(JSON.stringify(startMessage({ customParameters: { token: '' } })))).toThrow(
      AppError,
    );
    expect(parser.state).toBe(TwilioStreamState.AWAITING_START);
    expect(parser.parse(JSON.stringify(startMessage())).type).toBe('start');
  });
});

describe('TwilioMediaStreamParser: bad input', () => {
  const startWith = (start: Json) => () =>
    new TwilioMediaStreamParser().parse(JSON.stringify(startMessage(start)));
  const mediaWith = (media: Json) => () => started().parse(JSON.stringify(mediaMessage(media)));

  it.each([
    ['malformed JSON', () => started().parse('{"event":"media",'), 'message is not valid JSON'],
    ['a JSON array', () => started().parse('[1]'), 'message must be a JSON object'],
    ['a missing event', () => started().parse('{"media":{}}'), 'event is required'],
    ['a non-string event', () => started().parse('{"event":7}'), 'event must be a string'],
    [
      'media before start',
      () => new TwilioMediaStreamParser().parse(JSON.stringify(mediaMessage())),
      'media before start',
    ],
    ['a second start', () => started().parse(JSON.stringify(startMessage())), 'start received twice'],
    [
      'start with customParameters not an object',
      startWith({ customParameters: 'call_id=c' }),
      'start.customParameters must be an object',
    ],
    [
      'start with a call_id not a string',
      startWith({ customParameters: { call_id: 42 } }),
      'start.customParameters.call_id must be a string',
    ],
    [
      'start with a bad call_id',
      startWith({ customParameters: { call_id: 'a b', token: 't' } }),
      /call_id must be 1-128/,
    ],
    [
      "start with call_id '.' (a path segment a URL cannot carry)",
      startWith({ customParameters: { call_id: '.', token: 't' } }),
      /call_id must be 1-128 .*not '\.' or '\.\.'/,
    ],
    [
      "start with call_id '..'",
      startWith({ customParameters: { call_id: '..', token: 't' } }),
      /call_id must be 1-128/,
    ],
    [
      'start with an empty token',
      startWith({ customParameters: { call_id: 'c', token: '' } }),
      'start.customParameters.token must be a non-empty string',
    ],
    ['start without streamSid', startWith({ streamSid: undefined }), 'start.streamSid is required'],
    ['start with an empty callSid', startWith({ callSid: '' }), 'start.callSid must not be empty'],
    ['start without tracks', startWith({ tracks: [] }), /start.tracks must be a non-empty array/],
    ['start with an unknown track', startWith({ tracks: ['inbound', 'both'] }), /only inbound and outbound/],
    ['start without mediaFormat', startWith({ mediaFormat: undefined }), 'start.mediaFormat is required'],
    [
      'a-law media',
      startWith({ mediaFormat: { encoding: 'audio/x-alaw', sampleRate: 8000, channels: 1 } }),
      /mulaw/,
    ],
    [
      '16 kHz media',
      startWith({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 16000, channels: 1 } }),
      /8000/,
    ],
    [
      'stereo media',
      startWith({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 2 } }),
      /1 ch/,
    ],
    [
      'a string sampleRate',
      startWith({ mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: '8000', channels: 1 } }),
      /8000/,
    ],
    [
      'media with an unknown track',
      mediaWith({ track: 'inbound_track' }),
      'media.track must be inbound or outbound',
    ],
    ['media without payload', mediaWith({ payload: undefined }), 'media.payload is required'],
    ['media with garbage in base64', mediaWith({ payload: 'AAAA*AAA' }), 'media.payload is not valid base64'],
    ['media with unpadded base64', mediaWith({ payload: 'AAAAAA' }), 'media.payload is not valid base64'],
    ['media with URL-safe base64', mediaWith({ payload: 'AA-_' }), 'media.payload is not valid base64'],
    ['media with an empty payload', mediaWith({ payload: '' }), 'media.payload is empty'],
    ['media with a bad chunk', mediaWith({ chunk: '1e3' }), 'media.chunk must be a non-negative integer'],
    ['media without timestamp', mediaWith({ timestamp: undefined }), 'media.timestamp is required'],
    [
      'media of another stream',
      () => started().parse(JSON.stringify({ ...mediaMessage(), streamSid: 'MZx' })),
      /streamSid/,
    ],
    [
      'start with mismatched streamSids',
      () => new TwilioMediaStreamParser().parse(JSON.stringify({ ...startMessage(), streamSid: 'MZx' })),
      /streamSid/,
    ],
    ['mark without name', () => started().parse('{"event":"mark","mark":{}}'), 'mark.name is required'],
    [
      'dtmf without digit',
      () => started().parse('{"event":"dtmf","dtmf":{"track":"inbound_track"}}'),
      'dtmf.digit is required',
    ],
    ['a non-object stop', () => started().parse('{"event":"stop","stop":"now"}'), 'stop must be an object'],
  ])('rejects %s with 1007', (_what, fn, message) => {
    const err = errorOf(fn);
    expect(err.code).toBe('INVALID_PAYLOAD');
    expect(err.closeCode).toBe(1007);
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
  });

  it('rejects media, start and stop after stop with 1007', () => {
    const parser = started();
    parser.parse('{"event":"stop"}');
    expect(errorOf(() => parser.parse(JSON.stringify(mediaMessage()))).message).toBe('media after stop');
    expect(errorOf(() => parser.parse(JSON.stringify(startMessage()))).message).toBe('start after stop');
    expect(errorOf(() => parser.parse('{"event":"stop"}')).message).toBe('stop received twice');
  });

  it.each([1, 2, 3, 1000])('rejects a payload %i byte(s) above 1 s of audio with 1009', (extra) => {
    const payload = Buffer.alloc(TWILIO_MAX_PAYLOAD_BYTES + extra).toString('base64');
    const err = errorOf(() => started().parse(JSON.stringify(mediaMessage({ payload }))));
    expect(err.code).toBe('MESSAGE_TOO_BIG');
    expect(err.closeCode).toBe(1009);
  });

  it('rejects a message above the size limit with 1009 before parsing it', () => {
    const err = errorOf(() => started().parse(' '.repeat(TWILIO_MAX_MESSAGE_CHARS + 1)));
    expect(err.code).toBe('MESSAGE_TOO_BIG');
  });

  it('rejects a binary frame with 1003', () => {
    const err = errorOf(() => started().parseFrame(Buffer.from(JSON.stringify(mediaMessage())), true));
    expect(err.code).toBe('UNSUPPORTED_DATA');
    expect(err.closeCode).toBe(1003);
  });
});

describe('TwilioMediaStreamParser: properties', () => {
  it('never fails on random text with anything but a short AppError', () => {
    const text = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc
        .record(
          { event: fc.constantFrom('start', 'media', 'stop', 'mark', 'dtmf', 'connected') },
          { requiredKeys: [] },
        )
        .chain((head) =>
          fc
            .dictionary(fc.string({ maxLength: 10 }), fc.jsonValue())
            .map((rest) => JSON.stringify({ ...rest, ...head })),
        ),
    );
    fc.assert(
      fc.property(text, (t) => {
        parseOrAppError(new TwilioMediaStreamParser(), t);
        parseOrAppError(started(), t);
      }),
    );
  });

  it('never fails on a valid message with one field replaced or removed with anything but a short AppError', () => {
    const paths = [
      ['event'],
      ['streamSid'],
      ['start'],
      ['start', 'streamSid'],
      ['start', 'callSid'],
      ['start', 'tracks'],
      ['start', 'mediaFormat'],
      ['start', 'mediaFormat', 'sampleRate'],
      ['start', 'customParameters'],
      ['start', 'customParameters', 'call_id'],
      ['start', 'customParameters', 'token'],
      ['media'],
      ['media', 'track'],
      ['media', 'chunk'],
      ['media', 'timestamp'],
      ['media', 'payload'],
    ];
    const replacement = fc.option(fc.jsonValue(), { nil: undefined });
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom(...paths), replacement, (isStart, path, value) => {
        const message = structuredClone(isStart ? startMessage() : mediaMessage()) as Json;
        let target: Json = message;
        for (const key of path.slice(0, -1)) {
          if (typeof target[key] !== 'object' || target[key] === null) return;
          target = target[key] as Json;
        }
        target[path[path.length - 1]] = value;
        parseOrAppError(isStart ? new TwilioMediaStreamParser() : started(), JSON.stringify(message));
      }),
    );
  });

  it('parses a media message identically however it is re-encoded', () => {
    const media = fc.record({
      track: fc.constantFrom('inbound', 'outbound'),
      chunk: fc.nat(),
      timestamp: fc.nat(),
      payload: fc.uint8Array({ minLength: 1, maxLength: 400 }),
    });
    const encoding = fc.record({
      indent: fc.constantFrom(0, 1, 2, '\t'),
      numbers: fc.boolean(),
      reverseKeys: fc.boolean(),
      extra: fc.dictionary(fc.constantFrom('x', 'y', 'sequenceNumber', 'foo'), fc.jsonValue()),
    });
    fc.assert(
      fc.property(media, encoding, (m, how) => {
        const base = {
          track: m.track,
          chunk: String(m.chunk),
          timestamp: String(m.timestamp),
          payload: Buffer.from(m.payload).toString('base64'),
        };
        const variant: Json = {
          ...how.extra,
          ...base,
          ...(how.numbers ? { chunk: m.chunk, timestamp: m.timestamp } : {}),
        };
        const reorder = (o: Json) => (how.reverseKeys ? Object.fromEntries(Object.entries(o).reverse()) : o);
        const canonical = started().parse(JSON.stringify(mediaMessage(base)));
        const reencoded = started().parse(
          JSON.stringify(
            reorder({ ...how.extra, streamSid: STREAM_SID, media: reorder(variant), event: 'media' }),
            null,
            how.indent,
          ),
        );
        expect(reencoded).toEqual(canonical);
        expect(reencoded).toMatchObject({
          chunk: m.chunk,
          timestampMs: m.timestamp,
          payload: Buffer.from(m.payload),
        });
      }),
    );
  });

  it('delivers the same audio however it is split across media messages', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 4000 }),
        fc.array(fc.integer({ min: 1, max: 900 })),
        (audio, cuts) => {
          const parser = started();
          const received: Buffer[] = [];
          let offset = 0;
          for (let i = 0; offset < audio.length; i++) {
            const size = cuts.length > 0 ? cuts[i % cuts.length] : audio.length;
            const piece = Buffer.from(audio.subarray(offset, offset + size));
            offset += size;
            const event = parser.parse(
              JSON.stringify(mediaMessage({ chunk: String(i + 1), payload: piece.toString('base64') })),
            );
            if (event.type !== 'media') throw new Error('expected media');
            received.push(event.payload);
          }
          expect(Buffer.concat(received)).toEqual(Buffer.from(audio));
        },
      ),
    );
  });
});
