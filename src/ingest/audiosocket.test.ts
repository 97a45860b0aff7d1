import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assertRandomMessages,
  assertSessionCutThenAnything,
  type EventRules,
  errorOf,
  expectFixtureTone,
  expectParsesWellFormed,
  expectRefusal,
  expectWellFormed,
  only,
  readSessionLines,
  startOf,
  type WireMessage,
  wireMessageOf,
} from '../../test/helpers/parser-properties.js';
import {
  AUDIOSOCKET_AUDIO_RATES_HZ,
  AUDIOSOCKET_MAX_CONTROL_BYTES,
  AUDIOSOCKET_UUID_TIMEOUT_MS,
  AudioSocketKind,
  type AudioSocketParser,
  createAudioSocketParser,
  encodeAudioSocketFrame,
  encodeAudioSocketUuid,
} from './audiosocket.js';
import type { StreamEvent } from './platform-stream.js';

const UUID = '40325ec2-5efd-4bd3-805f-53576e581d13';
const OTHER_UUID = 'a1b2c3d4-e5f6-4789-9abc-def012345678';
/** No error message may repeat a client's bytes: none of them is ever text, so a marker stands for any. */
const MARKER = 'ZQXJ7MARKER';
const K = AudioSocketKind;

const RULES: EventRules = {
  participants: ['caller'],
  exactParticipants: true,
  encodings: ['pcm16'],
  ratesHz: [...AUDIOSOCKET_AUDIO_RATES_HZ.values()],
  credential: false,
  numbers: false,
  maxAudioBytes: 65_534,
  audioByteMultiple: 2,
  endScope: 'participants',
  closeCodes: [1003, 1007],
};

const frame = encodeAudioSocketFrame;
const uuidFrame = (uuid = UUID) => encodeAudioSocketUuid(uuid);
const audioFrame = (bytes: number, fill = 0x11, kind: number = K.SLIN) =>
  frame(kind, Buffer.alloc(bytes, fill));
const HANGUP = frame(K.HANGUP);
const DTMF = frame(K.DTMF, Buffer.from('5'));

/** The fixture's TCP writes, in order (test/fixtures/platforms/audiosocket/session.jsonl). */
function sessionWrites(): WireMessage[] {
  return readSessionLines('audiosocket', { call_id: 'c1', token: 't1' }).map(wireMessageOf);
}
const SESSION = sessionWrites();
const SESSION_BYTES = Buffer.concat(SESSION.map((m) => m.data));

/** Events with audio payloads copied out (a view is only valid until the next parse). */
function normalize(events: readonly StreamEvent[]): StreamEvent[] {
  return events.map((e) => (e.type === 'audio' ? { ...e, payload: Buffer.from(e.payload) } : e));
}

/** Feeds `chunks` in order, then flushes; every answer well-formed; all events, in order. */
function parseChunks(chunks: Iterable<Buffer>, parser: AudioSocketParser = createAudioSocketParser()) {
  const events: StreamEvent[] = [];
  for (const chunk of chunks) events.push(...normalize(expectWellFormed(parser.parse(chunk, true), RULES)));
  events.push(...expectWellFormed(parser.flush(), RULES));
  return events;
}

/** `bytes` cut at `cuts` (sorted, deduplicated offsets inside it). */
function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

function byteByByte(bytes: Buffer): Buffer[] {
  return Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
}

function parseAll(...frames: Buffer[]): readonly StreamEvent[] {
  return expectWellFormed(createAudioSocketParser().parse(Buffer.concat(frames), true), RULES);
}

/** A parser that has read the UUID and one frame of `kind` (its start and audio). */
function streaming(kind: number = K.SLIN): AudioSocketParser {
  const parser = createAudioSocketParser();
  const events = parser.parse(Buffer.concat([uuidFrame(), audioFrame(320, 1, kind)]), true);
  expect(events.map((e) => e.type)).toEqual(['start', 'audio']);
  return parser;
}

describe('AudioSocket: the fixture session', () => {
  it('parses whole into start, 150 frames of 20 ms of a 600 Hz tone and an ignored DTMF', () => {
    const events = parseChunks([SESSION_BYTES]);
    expect(events).toHaveLength(152);
    expect(startOf(events.slice(0, 1))).toEqual({
      type: 'start',
      callId: null,
      platformCallId: UUID,
      credential: null,
      participants: ['caller'],
      interleaved: false,
      format: { encoding: 'pcm16', sampleRateHz: 8000 },
      from: null,
      to: null,
    });
    expect(events.filter((e) => e.type === 'ignored')).toEqual([{ type: 'ignored', what: 'dtmf' }]);
    expect(events.findIndex((e) => e.type === 'ignored')).toBe(1 + 61); // after frame 60
    const audio = events.flatMap((e) => (e.type === 'audio' ? [e.payload] : []));
    expect(audio).toHaveLength(150);
    for (const payload of audio) expect(payload.length).toBe(320);
    const bytes = Buffer.concat(audio);
    const samples = new Int16Array(bytes.length / 2);
    for (let i = 0; i < samples.length; i++) samples[i] = bytes.readInt16LE(2 * i);
    expectFixtureTone(samples, { freqHz: 600, rateHz: 8000, seconds: 3 });
  });

  it('gives the same events write by write, byte by byte, and cut at every point of a multi-frame prefix', () => {
    const whole = parseChunks([SESSION_BYTES]);
    expect(parseChunks(SESSION.map((m) => m.data))).toEqual(whole);
    expect(parseChunks(byteByByte(SESSION_BYTES))).toEqual(whole);

    // The UUID, two audio frames, a DTMF, a third audio frame and a hang-up: every single cut, and every pair.
    const prefix = Buffer.concat([
      uuidFrame(),
      audioFrame(320, 1),
      audioFrame(320, 2),
      DTMF,
      audioFrame(6, 3),
      HANGUP,
    ]);
    const expected = parseChunks([prefix]);
    expect(expected.map((e) => e.type)).toEqual(['start', 'audio', 'audio', 'ignored', 'audio', 'end']);
    for (let cut = 1; cut < prefix.length; cut++) expect(parseChunks(cutAt(prefix, [cut]))).toEqual(expected);
    const short = Buffer.concat([uuidFrame(), audioFrame(4, 1), DTMF, audioFrame(2, 2), HANGUP]);
    const shortExpected = parseChunks([short]);
    for (let a = 1; a < short.length; a++) {
      for (let b = a + 1; b < short.length; b++)
        expect(parseChunks(cutAt(short, [a, b]))).toEqual(shortExpected);
    }
  });

  it('passes a frame held whole by one chunk on as a view of it, and a split one as its own buffer', () => {
    const parser = createAudioSocketParser();
    parser.parse(uuidFrame(), true);
    const chunk = audioFrame(320, 7);
    const [, audio] = parser.parse(chunk, true);
    if (audio.type !== 'audio') throw new Error('expected audio');
    expect(audio.payload.buffer).toBe(chunk.buffer);
    expect(audio.payload.byteOffset).toBe(chunk.byteOffset + 3);
    const split = audioFrame(320, 8);
    expect(parser.parse(split.subarray(0, 100), true)).toEqual([]);
    const event = only(parser.parse(split.subarray(100), true));
    if (event.type !== 'audio') throw new Error('expected audio');
    split.fill(0); // the chunks may be reused once parsed: the payload is a copy
    expect(event.payload).toEqual(Buffer.alloc(320, 8));
  });
});

describe('AudioSocket: the UUID', () => {
  it('is the platform call id in canonical lower case, announced with the first audio frame', () => {
    const parser = createAudioSocketParser();
    expect(parser.uuid).toBeNull();
    expect(parser.parse(uuidFrame(OTHER_UUID.toUpperCase()), true)).toEqual([]);
    expect(parser.uuid).toBe(OTHER_UUID);
    const start = startOf(parser.parse(audioFrame(320), true).slice(0, 1));
    expect(start.platformCallId).toBe(OTHER_UUID);
    expect(start.callId).toBeNull();
  });

  it('is known as soon as its 19 bytes are in, whatever the split', () => {
    const parser = createAudioSocketParser();
    const bytes = uuidFrame();
    for (let i = 0; i < bytes.length - 1; i++) {
      expect(parser.parse(bytes.subarray(i, i + 1), true)).toEqual([]);
      expect(parser.uuid).toBeNull();
    }
    parser.parse(bytes.subarray(bytes.length - 1), true);
    expect(parser.uuid).toBe(UUID);
  });

  it('accepts the nil UUID (Asterisk sends whatever the dialplan gives)', () => {
    const nil = '00000000-0000-0000-0000-000000000000';
    expect(startOf(parseAll(uuidFrame(nil), audioFrame(2)).slice(0, 1)).platformCallId).toBe(nil);
  });

  it('must hold exactly 16 bytes, refused at the length bytes', () => {
    for (const length of [0, 15, 17, 36, 0xffff]) {
      const parser = createAudioSocketParser();
      const header = Buffer.from([K.UUID, length >> 8, length & 0xff]);
      expectRefusal(
        parser.parse(header, true),
        'INVALID_PAYLOAD',
        'AudioSocket uuid frame must hold 16 bytes',
        MARKER,
      );
    }
  });

  it('comes once', () => {
    expectRefusal(
      parseAll(uuidFrame(), uuidFrame()),
      'INVALID_PAYLOAD',
      'AudioSocket uuid received twice',
      MARKER,
    );
    const parser = streaming();
    expectRefusal(
      parser.parse(Buffer.from([K.UUID]), true),
      'INVALID_PAYLOAD',
      'AudioSocket uuid received twice',
      MARKER,
    );
  });

  it('comes before audio: audio first is refused at its kind byte, empty or not', () => {
    for (const kind of AUDIOSOCKET_AUDIO_RATES_HZ.keys()) {
      const parser = createAudioSocketParser();
      expectRefusal(
        parser.parse(Buffer.from([kind]), true),
        'INVALID_PAYLOAD',
        'audio before the uuid frame',
        MARKER,
      );
    }
    expectRefusal(
      parseAll(frame(K.SLIN), uuidFrame()),
      'INVALID_PAYLOAD',
      'audio before the uuid frame',
      MARKER,
    );
  });

  it('exports the timeout the TCP server closes a silent connection after', () => {
    expect(AUDIOSOCKET_UUID_TIMEOUT_MS).toBe(5000);
  });
});

describe('AudioSocket: audio kinds', () => {
  const expectedRates: [number, number][] = [
    [0x10, 8000],
    [0x11, 12000],
    [0x12, 16000],
    [0x13, 24000],
    [0x14, 32000],
    [0x15, 44100],
    [0x16, 48000],
  ];

  it('reads every slin kind Asterisk defines up to 48 kHz, as 16-bit little-endian', () => {
    expect([...AUDIOSOCKET_AUDIO_RATES_HZ]).toEqual(expectedRates);
    for (const [kind, rateHz] of expectedRates) {
      const samples = Buffer.from([0x01, 0x80, 0xff, 0x7f]); // -32767, 32767 little-endian
      const events = parseAll(uuidFrame(), frame(kind, samples), frame(kind, samples));
      expect(events.map((e) => e.type)).toEqual(['start', 'audio', 'audio']);
      expect(startOf(events.slice(0, 1)).format).toEqual({ encoding: 'pcm16', sampleRateHz: rateHz });
      expect(events[1]).toEqual({ type: 'audio', participant: 'caller', payload: samples });
    }
  });

  it('refuses slin96 and slin192 (beyond 48 kHz) at the kind byte', () => {
    for (const kind of [K.SLIN96, K.SLIN192]) {
      const parser = createAudioSocketParser();
      parser.parse(uuidFrame(), true);
      expectRefusal(
        parser.parse(Buffer.from([kind]), true),
        'UNSUPPORTED_DATA',
        'AudioSocket slin96 and slin192 are not supported: use up to slin48',
        MARKER,
      );
    }
  });

  it('refuses a rate change mid-stream', () => {
    const parser = streaming(K.SLIN16);
    expect(only(parser.parse(audioFrame(640, 1, K.SLIN16), true)).type).toBe('audio');
    expectRefusal(
      parser.parse(Buffer.from([K.SLIN]), true),
      'INVALID_PAYLOAD',
      'AudioSocket audio rate changed mid-stream',
      MARKER,
    );
  });

  it('ignores an empty audio frame, which neither starts the stream nor fixes its rate', () => {
    const parser = createAudioSocketParser();
    parser.parse(uuidFrame(), true);
    expect(parser.parse(frame(K.SLIN16), true)).toEqual([{ type: 'ignored', what: 'empty audio' }]);
    const events = parser.parse(audioFrame(320), true);
    expect(startOf(events.slice(0, 1)).format.sampleRateHz).toBe(8000);
  });

  it('refuses an odd byte count and more than 1 s (or 65 535 bytes) at the length bytes', () => {
    for (const [kind, rateHz] of expectedRates) {
      const max = Math.min(rateHz * 2, 0xffff) & ~1;
      const ok = createAudioSocketParser();
      ok.parse(uuidFrame(), true);
      expect(ok.parse(Buffer.from([kind, max >> 8, max & 0xff]), true)).toEqual([]);
      expect(ok.parse(Buffer.alloc(max), true).map((e) => e.type)).toEqual(['start', 'audio']);
      for (const [length, message] of [
        [max + 2, 'AudioSocket audio frame longer than 1 s'],
        [
          0xffff,
          rateHz * 2 >= 0xffff
            ? 'AudioSocket audio frame must hold whole 16-bit samples'
            : 'AudioSocket audio frame longer than 1 s',
        ],
        [321, 'AudioSocket audio frame must hold whole 16-bit samples'],
      ] as const) {
        if (length > 0xffff) continue;
        const parser = createAudioSocketParser();
        parser.parse(uuidFrame(), true);
        expectRefusal(
          parser.parse(Buffer.from([kind, length >> 8, length & 0xff]), true),
          'INVALID_PAYLOAD',
          message,
          MARKER,
        );
      }
    }
  });
});

describe('AudioSocket: control kinds', () => {
  it('ignores DTMF anywhere, and the Go library silence kind', () => {
    expect(parseAll(DTMF)).toEqual([{ type: 'ignored', what: 'dtmf' }]);
    expect(parseAll(uuidFrame(), DTMF, frame(K.SILENCE, Buffer.alloc(320)))).toEqual([
      { type: 'ignored', what: 'dtmf' },
      { type: 'ignored', what: 'silence' },
    ]);
  });

  it('ends the participant on hang-up; later frames are checked and ignored', () => {
    const parser = streaming();
    expect(parser.parse(HANGUP, true)).toEqual([{ type: 'end', scope: 'participants' }]);
    expect(
      parser.parse(Buffer.concat([audioFrame(320), audioFrame(640, 1, K.SLIN16), HANGUP, uuidFrame()]), true),
    ).toEqual(Array(4).fill({ type: 'ignored', what: 'frame after end' }));
    expectRefusal(
      parser.parse(Buffer.from([0x42]), true),
      'INVALID_PAYLOAD',
      'unknown AudioSocket frame kind',
      MARKER,
    );
  });

  it('ignores a hang-up before the UUID or before any audio (nothing started)', () => {
    expect(parseAll(HANGUP, uuidFrame(), audioFrame(2))).toEqual([
      { type: 'ignored', what: 'hang-up before uuid' },
      { type: 'ignored', what: 'frame after end' },
      { type: 'ignored', what: 'frame after end' },
    ]);
    expect(parseAll(uuidFrame(), HANGUP)).toEqual([{ type: 'ignored', what: 'hang-up before audio' }]);
  });

  it('ends on an error whose code says the caller hung up, and reports other codes as ignored', () => {
    expect(streaming().parse(frame(K.ERROR, Buffer.from([0x01])), true)).toEqual([
      { type: 'end', scope: 'participants' },
    ]);
    expect(streaming().parse(frame(K.ERROR, Buffer.from([0x05])), true)).toEqual([
      { type: 'end', scope: 'participants' },
    ]);
    const parser = streaming();
    expect(parser.parse(frame(K.ERROR, Buffer.from([0x02])), true)).toEqual([
      { type: 'ignored', what: 'error 0x02' },
    ]);
    expect(parser.parse(frame(K.ERROR), true)).toEqual([{ type: 'ignored', what: 'error' }]);
    expect(parser.parse(frame(K.ERROR, Buffer.alloc(16, 0xfe)), true)).toEqual([
      { type: 'ignored', what: `error 0x${'fe'.repeat(8)}` },
    ]);
    expect(only(parser.parse(audioFrame(320), true)).type).toBe('audio');
  });

  it('refuses a control frame longer than its kind allows, at the length bytes', () => {
    const cases: [number, number, string][] = [
      [K.HANGUP, AUDIOSOCKET_MAX_CONTROL_BYTES + 1, 'AudioSocket hang-up frame too long'],
      [K.DTMF, AUDIOSOCKET_MAX_CONTROL_BYTES + 1, 'AudioSocket dtmf frame too long'],
      [K.ERROR, AUDIOSOCKET_MAX_CONTROL_BYTES + 1, 'AudioSocket error frame too long'],
      [K.SILENCE, 16_001, 'AudioSocket silence frame too long'],
      [K.HANGUP, 0xffff, 'AudioSocket hang-up frame too long'],
    ];
    for (const [kind, length, message] of cases) {
      const parser = createAudioSocketParser();
      expectRefusal(
        parser.parse(Buffer.from([kind, length >> 8, length & 0xff]), true),
        'INVALID_PAYLOAD',
        message,
        MARKER,
      );
    }
  });
});

describe('AudioSocket: bad frames', () => {
  const KNOWN = new Set<number>([...Object.values(K)]);

  it('refuses every unknown kind at its first byte, before or after the UUID', () => {
    for (let kind = 0; kind <= 0xff; kind++) {
      if (KNOWN.has(kind)) continue;
      expectRefusal(
        createAudioSocketParser().parse(Buffer.from([kind]), true),
        'INVALID_PAYLOAD',
        'unknown AudioSocket frame kind',
        MARKER,
      );
      const parser = streaming();
      expectRefusal(
        parser.parse(Buffer.from([kind, 0, 0]), true),
        'INVALID_PAYLOAD',
        'unknown AudioSocket frame kind',
        MARKER,
      );
    }
  });

  it('answers the error alone, without the events of its chunk, and again to every later call', () => {
    const parser = createAudioSocketParser();
    const error = errorOf(
      parser.parse(Buffer.concat([uuidFrame(), audioFrame(320), Buffer.from([0x42])]), true),
    );
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(errorOf(parser.parse(audioFrame(320), true))).toBe(error);
    expect(parser.flush()).toEqual([]);
  });

  it('drops a partial frame at close', () => {
    const parser = streaming();
    expect(parser.parse(audioFrame(320).subarray(0, 200), true)).toEqual([]);
    expect(parser.flush()).toEqual([]);
    const header = streaming();
    expect(header.parse(Buffer.from([K.SLIN, 0x01]), true)).toEqual([]);
    expect(header.flush()).toEqual([]);
  });

  it('reads bytes whatever the isBinary flag says (TCP has no message types)', () => {
    const parser = createAudioSocketParser();
    parser.parse(uuidFrame(), false);
    expect(parser.parse(audioFrame(4), false).map((e) => e.type)).toEqual(['start', 'audio']);
  });
});

describe('AudioSocket: the frame encoder', () => {
  it('writes kind, big-endian length, payload', () => {
    expect(frame(0x12, Buffer.from([1, 2, 3]))).toEqual(Buffer.from([0x12, 0, 3, 1, 2, 3]));
    expect(frame(0x00)).toEqual(Buffer.from([0, 0, 0]));
    expect(frame(0x10, Buffer.alloc(0x1234)).subarray(0, 3)).toEqual(Buffer.from([0x10, 0x12, 0x34]));
    expect(uuidFrame()).toEqual(
      Buffer.concat([Buffer.from([1, 0, 16]), Buffer.from(UUID.replaceAll('-', ''), 'hex')]),
    );
  });

  it('refuses what no frame can be', () => {
    expect(() => frame(256)).toThrow(RangeError);
    expect(() => frame(-1)).toThrow(RangeError);
    expect(() => frame(1.5)).toThrow(RangeError);
    expect(() => frame(0x10, Buffer.alloc(0x10000))).toThrow(RangeError);
    expect(() => encodeAudioSocketUuid('not-a-uuid')).toThrow(RangeError);
  });
});

// ---- properties ----

const DEFINED_KINDS = [...Object.values(K)];

/** A frame of any kind (a defined one mostly), with any payload, its declared length true or not. */
const anyFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .tuple(
      fc.oneof(fc.constantFrom(...DEFINED_KINDS), fc.integer({ min: 0, max: 255 })),
      fc.uint8Array({ maxLength: 400 }),
    )
    .map(([kind, payload]) => frame(kind, payload)),
  fc.constant(uuidFrame()),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.integer({ min: 0, max: 0xffff }).map((length) => Buffer.from([K.SLIN, length >> 8, length & 0xff])),
);

/** A well-formed session: the UUID, then audio of one kind, DTMF, silence and errors, perhaps a hang-up and more. */
const validSession: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.constantFrom(...AUDIOSOCKET_AUDIO_RATES_HZ.keys()),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 200 }).map((samples) => ({ audio: samples * 2 })) },
        { weight: 1, arbitrary: fc.constant({ control: DTMF }) },
        { weight: 1, arbitrary: fc.constant({ control: frame(K.SILENCE, Buffer.alloc(8)) }) },
        { weight: 1, arbitrary: fc.constant({ control: frame(K.ERROR, Buffer.from([0x02])) }) },
        { weight: 1, arbitrary: fc.constant({ control: HANGUP }) },
      ),
      { maxLength: 12 },
    ),
    fc.integer({ min: 0, max: 255 }),
  )
  .map(([kind, parts, fill]) =>
    Buffer.concat([
      uuidFrame(),
      ...parts.map((p, i) => ('audio' in p ? audioFrame(p.audio, (fill + i) & 0xff, kind) : p.control)),
    ]),
  );

/** Byte offsets to cut at. */
const cuts = fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 30 });

describe('AudioSocket: properties', () => {
  it('never throws on random chunks of frames and bytes, and answers well-formed', () => {
    assertRandomMessages({
      parser: createAudioSocketParser,
      message: fc.oneof(
        fc
          .array(anyFrame, { maxLength: 4 })
          .map((frames) => ({ data: Buffer.concat(frames), isBinary: true })),
        fc.constantFrom(...SESSION),
        fc.uint8Array({ maxLength: 64 }).map((b) => ({ data: Buffer.from(b), isBinary: true })),
      ),
      rules: RULES,
      maxMessages: 12,
      numRuns: 300,
    });
  });

  it('never throws on the fixture session cut at a random write and followed by anything', () => {
    assertSessionCutThenAnything({
      parser: createAudioSocketParser,
      session: SESSION,
      tail: fc.oneof(
        anyFrame.map((data) => ({ data, isBinary: true })),
        fc.uint8Array({ maxLength: 64 }).map((b) => ({ data: Buffer.from(b), isBinary: true })),
      ),
      rules: RULES,
    });
  });

  it('gives a valid session cut into random chunks the same events as whole', () => {
    fc.assert(
      fc.property(validSession, cuts, (bytes, at) => {
        const whole = parseChunks([bytes]);
        expect(whole.some((e) => e.type === 'error')).toBe(false);
        expect(parseChunks(cutAt(bytes, at))).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('gives any stream of frames cut anywhere the same events, or the same error', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 8 }), cuts, (frames, at) => {
        const bytes = Buffer.concat([uuidFrame(), ...frames]);
        const whole = parseChunks([bytes]);
        const split = parseChunks(cutAt(bytes, at));
        const wholeError = whole.find((e) => e.type === 'error');
        const splitError = split.find((e) => e.type === 'error');
        if (wholeError === undefined) expect(split).toEqual(whole);
        else expect(splitError).toEqual(wholeError);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the shape promises over the fixture session cut into random chunks', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: SESSION_BYTES.length - 1 }), { maxLength: 200 }),
        (at) => {
          expectParsesWellFormed(
            createAudioSocketParser(),
            cutAt(SESSION_BYTES, at).map((data) => ({ data, isBinary: true })),
            RULES,
          );
        },
      ),
      { numRuns: 50 },
    );
  });
});
