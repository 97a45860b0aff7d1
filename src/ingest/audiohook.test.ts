import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anyMessage,
  assertAudioSurvivesSplitting,
  assertRandomMessages,
  assertSessionCutThenAnything,
  type EventRules,
  expectWellFormed,
  readSessionLines,
  send,
  textMessage,
  type WireMessage,
  wireMessageOf,
} from '../../test/helpers/parser-properties.js';
import { decodeMulaw } from '../audio/g711.js';
import type { AppError } from '../domain/app-error.js';
import {
  AUDIOHOOK_HEADER,
  AUDIOHOOK_MAX_MESSAGE_BYTES,
  AudioHookState,
  createAudioHookParser,
} from './audiohook.js';
import type { Handshake, PlatformParser, StreamEvent } from './platform-stream.js';

const SESSION_ID = '30b0e395-84d3-4570-ac13-9a62d8f514c0';
const ORG_ID = 'd7934305-0972-4844-938e-9060eef73d05';
const CORRELATION_ID = 'e160e428-53e2-487c-977d-96989bf5c99d';
const CONVERSATION_ID = '090eaa2f-72fa-480a-83e0-8667ff89c0ec';
const FIXTURES = new URL('../../test/fixtures/platforms/audiohook/', import.meta.url);

type Json = Record<string, unknown>;

const STEREO = ['external', 'internal'];
const pcmu = (channels: string[], rest: Json = {}) => ({
  type: 'audio',
  format: 'PCMU',
  channels,
  rate: 8000,
  ...rest,
});

function handshake(headers: Record<string, string> = {}): Handshake {
  return {
    query: new URLSearchParams(),
    headers: {
      [AUDIOHOOK_HEADER.organizationId]: ORG_ID,
      [AUDIOHOOK_HEADER.sessionId]: SESSION_ID,
      [AUDIOHOOK_HEADER.correlationId]: CORRELATION_ID,
      [AUDIOHOOK_HEADER.apiKey]: 'eik_example',
      ...headers,
    },
  };
}

function openParameters(parameters: Json = {}): Json {
  return {
    organizationId: ORG_ID,
    conversationId: CONVERSATION_ID,
    participant: {
      id: '883efee8-3d6c-4537-b500-6d7ca4b92fa0',
      ani: '+13175550123',
      aniName: 'John Doe',
      dnis: '+18005550100',
    },
    media: [pcmu(STEREO), pcmu(['external']), pcmu(['internal'])],
    language: 'en-US',
    ...parameters,
  };
}

/** A client message, numbered as the client would by default (seq / serverseq may be overridden). */
function message(type: string, seq: number, serverseq: number, parameters: Json = {}, rest: Json = {}): Json {
  return { version: '2', id: SESSION_ID, type, seq, serverseq, position: 'PT0S', parameters, ...rest };
}

const text = (m: unknown) => Buffer.from(typeof m === 'string' ? m : JSON.stringify(m));

/** A parser that has answered `open` (stereo unless other offers are given). */
function opened(parameters: Json = {}): PlatformParser {
  const parser = createAudioHookParser(handshake());
  const events = send(parser, message('open', 1, 0, openParameters(parameters)));
  expect(events.map((e) => e.type)).toEqual(['start', 'reply']);
  return parser;
}

function replies(events: readonly StreamEvent[]): Json[] {
  return events.flatMap((e) => (e.type === 'reply' ? [JSON.parse(e.text) as Json] : []));
}

function errorOf(events: readonly StreamEvent[]): AppError {
  const last = events[events.length - 1];
  if (last?.type !== 'error') throw new Error(`expected an error, got ${events.map((e) => e.type)}`);
  return last.error;
}

function stateOf(parser: PlatformParser): AudioHookState {
  return (parser as unknown as { state: AudioHookState }).state;
}

/**
 * What AudioHook's events may be: the channels chosen (stereo interleaved), PCMU at 8000 Hz, no
 * credential (the upgrade carries it), at most 1 s of stereo audio, the protocol's replies, and a
 * close that ends the call.
 */
const RULES: EventRules = {
  participants: ['caller', 'agent'],
  interleaves: true,
  encodings: ['mulaw'],
  ratesHz: [8000],
  credential: false,
  maxAudioBytes: 16_000,
  endScope: 'call',
  reply: (replyText) => {
    const reply = JSON.parse(replyText) as Json;
    expect(reply['version']).toBe('2');
    expect(['opened', 'pong', 'closed', 'disconnect']).toContain(reply['type']);
    expect(Number.isSafeInteger(reply['seq'])).toBe(true);
  },
  closeCodes: [1003, 1007, 1008, 1009],
};

/** Checks every event against the shape's promises; returns them for chaining. */
function wellFormed(events: readonly StreamEvent[]): readonly StreamEvent[] {
  return expectWellFormed(events, RULES);
}

function sessionLines(callId: string, token: string) {
  return readSessionLines<Json>('audiohook', { call_id: callId, token });
}

describe('AudioHook parser: the fixture session', () => {
  it('answers every message of session.jsonl in order with exactly the expected events', () => {
    const lines = sessionLines('genesys-call-1', 'eik_secret');
    const head = lines[0].handshake!;
    expect(head.path).toBe('/ws/audiohook');
    expect(head.headers['x-api-key']).toBe('eik_secret');
    const parser = createAudioHookParser({ query: new URLSearchParams(head.query), headers: head.headers });
    const left: number[] = [];
    const right: number[] = [];
    let lastAt = -1;
    let audioMessages = 0;
    const replyTypes: string[] = [];
    for (const line of lines.slice(1)) {
      expect(line.at).toBeGreaterThanOrEqual(lastAt);
      lastAt = line.at!;
      if (line.b !== undefined) {
        const bytes = Buffer.from(line.b, 'base64');
        const events = parser.parse(bytes, true);
        expect(events).toEqual([{ type: 'audio', participant: null, payload: bytes }]);
        const pcm = new Int16Array(bytes.length);
        decodeMulaw(bytes, pcm);
        for (let i = 0; i < pcm.length; i += 2) {
          left.push(pcm[i]);
          right.push(pcm[i + 1]);
        }
        audioMessages++;
        continue;
      }
      const m = line.t!;
      const events = parser.parse(text(m), false);
      switch (m['type']) {
        case 'open':
          expect(events[0]).toEqual({
            type: 'start',
            callId: 'genesys-call-1',
            platformCallId: CONVERSATION_ID,
            credential: null,
            participants: ['caller', 'agent'],
            interleaved: true,
            format: { encoding: 'mulaw', sampleRateHz: 8000 },
            from: '+13175550123',
            to: '+18005550100',
          });
          expect(replies(events)).toEqual([
            {
              version: '2',
              type: 'opened',
              id: SESSION_ID,
              seq: 1,
              clientseq: 1,
              parameters: { media: [pcmu(STEREO)], startPaused: false },
            },
          ]);
          expect(events).toHaveLength(2);
          break;
        case 'ping':
          expect(replies(events)).toEqual([
            { version: '2', type: 'pong', id: SESSION_ID, seq: 2, clientseq: 2, parameters: {} },
          ]);
          expect(events).toHaveLength(1);
          break;
        case 'close':
          expect(replies(events)).toEqual([
            { version: '2', type: 'closed', id: SESSION_ID, seq: 3, clientseq: 3, parameters: {} },
          ]);
          expect(events[1]).toEqual({ type: 'end', scope: 'call' });
          expect(events).toHaveLength(2);
          break;
        default:
          throw new Error(`unexpected ${String(m['type'])} in the session`);
      }
      replyTypes.push(...replies(events).map((r) => r['type'] as string));
    }
    expect(replyTypes).toEqual(['opened', 'pong', 'closed']);
    expect(audioMessages).toBe(150);
    expect(stateOf(parser)).toBe(AudioHookState.CLOSED);
    // The caller (left) is the 600 Hz tone and the agent (right) the 1500 Hz one: a sine crosses
    // zero twice per period, so 3 s give ~3600 and ~9000 sign changes.
    const crossings = (x: number[]) => x.slice(1).filter((v, i) => v >= 0 !== x[i] >= 0).length;
    expect(Math.abs(crossings(left) - 3600)).toBeLessThan(20);
    expect(Math.abs(crossings(right) - 9000)).toBeLessThan(20);
    // -12 dBFS peak: a sine's RMS is 3 dB lower.
    const rmsDb = (x: number[]) =>
      20 * Math.log10(Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length) / 32768);
    expect(rmsDb(left)).toBeCloseTo(-15.05, 0);
    expect(rmsDb(right)).toBeCloseTo(-15.05, 0);
  });

  it('keeps the session under 200 KB, with the handshake headers Genesys sends', () => {
    expect(readFileSync(new URL('session.jsonl', FIXTURES)).length).toBeLessThan(200_000);
    const head = sessionLines('c', 't')[0].handshake!;
    expect(Object.keys(head.headers).sort()).toEqual([
      'audiohook-correlation-id',
      'audiohook-organization-id',
      'audiohook-session-id',
      'user-agent',
      'x-api-key',
    ]);
  });

  it('parses every example of the README in order and gives exactly its replies', () => {
    const readme = readFileSync(new URL('README.md', FIXTURES), 'utf8');
    const blocks = [...readme.matchAll(/```(jsonc?)\n([\s\S]*?)```/g)].map((m) => ({
      kind: m[1],
      body: m[2],
    }));
    const clientMessages = blocks.filter((b) => b.kind === 'json').map((b) => JSON.parse(b.body) as Json);
    const expectedReplies = blocks.filter((b) => b.kind === 'jsonc').map((b) => b.body.trim());
    const parser = createAudioHookParser(handshake());
    const events = clientMessages.flatMap((m) => [...wellFormed(send(parser, m))]);
    expect(clientMessages.map((m) => m['type'])).toEqual([
      'open',
      'ping',
      'paused',
      'resumed',
      'discarded',
      'update',
      'error',
      'close',
    ]);
    expect(events.map((e) => e.type)).toEqual([
      'start',
      'reply',
      'reply',
      'ignored',
      'ignored',
      'ignored',
      'ignored',
      'ignored',
      'reply',
      'end',
    ]);
    expect(events[0]).toMatchObject({ callId: 'genesys-demo-1', platformCallId: CONVERSATION_ID });
    const texts = events.flatMap((e) => (e.type === 'reply' ? [e.text] : []));
    // The last README reply is the disconnect of an open that offers only L16.
    const refused = createAudioHookParser(handshake());
    const l16 = send(
      refused,
      message('open', 1, 0, openParameters({ media: [{ ...pcmu(STEREO), format: 'L16' }] })),
    );
    texts.push(...l16.flatMap((e) => (e.type === 'reply' ? [e.text] : [])));
    expect(texts).toEqual(expectedReplies);
  });
});

describe('AudioHook parser: open and the media earshot chooses', () => {
  it.each([
    ['stereo external/internal first', [pcmu(STEREO), pcmu(['external'])], STEREO, ['caller', 'agent']],
    [
      'stereo offered after mono',
      [pcmu(['internal']), pcmu(['external']), pcmu(STEREO)],
      STEREO,
      ['caller', 'agent'],
    ],
    [
      'stereo internal/external only',
      [pcmu(['internal', 'external'])],
      ['internal', 'external'],
      ['agent', 'caller'],
    ],
    [
      'both stereo orders (external/internal wins)',
      [pcmu(['internal', 'external']), pcmu(STEREO)],
      STEREO,
      ['caller', 'agent'],
    ],
    [
      'stereo internal/external over mono',
      [pcmu(['external']), pcmu(['internal', 'external'])],
      ['internal', 'external'],
      ['agent', 'caller'],
    ],
    ['mono external and internal', [pcmu(['internal']), pcmu(['external'])], ['external'], ['caller']],
    ['mono internal only', [pcmu(['internal'])], ['internal'], ['agent']],
    [
      'L16 stereo besides PCMU mono',
      [{ ...pcmu(STEREO), format: 'L16' }, pcmu(['external'])],
      ['external'],
      ['caller'],
    ],
    [
      '16 kHz stereo besides 8 kHz mono',
      [pcmu(STEREO, { rate: 16000 }), pcmu(['internal'])],
      ['internal'],
      ['agent'],
    ],
    [
      'a video offer besides PCMU',
      [{ ...pcmu(STEREO), type: 'video' }, pcmu(['external'])],
      ['external'],
      ['caller'],
    ],
  ])('picks the best PCMU 8000 Hz offer: %s', (_what, media, channels, participants) => {
    const parser = createAudioHookParser(handshake());
    const events = wellFormed(send(parser, message('open', 1, 0, openParameters({ media }))));
    expect(events[0]).toMatchObject({ type: 'start', participants, interleaved: channels.length === 2 });
    expect(replies(events)[0]).toMatchObject({
      type: 'opened',
      parameters: { media: [pcmu(channels as string[])], startPaused: false },
    });
    // Audio then follows the chosen layout.
    const audio = wellFormed(parser.parse(Buffer.alloc(channels.length * 160, 0xff), true));
    expect(audio).toEqual([
      {
        type: 'audio',
        participant: channels.length === 2 ? null : participants[0],
        payload: Buffer.alloc(channels.length * 160, 0xff),
      },
    ]);
  });

  it('uses the conversation id when no call_id is given, and null numbers when absent', () => {
    const parser = createAudioHookParser(handshake());
    const events = send(parser, message('open', 1, 0, openParameters({ participant: undefined })));
    expect(events[0]).toMatchObject({ callId: null, platformCallId: CONVERSATION_ID, from: null, to: null });
    const empty = send(
      createAudioHookParser(handshake()),
      message('open', 1, 0, openParameters({ participant: { ani: '', dnis: '' } })),
    );
    expect(empty[0]).toMatchObject({ from: null, to: null });
  });

  it('takes call_id from customConfig, else from Audio Connector inputVariables', () => {
    const open = (p: Json) =>
      send(createAudioHookParser(handshake()), message('open', 1, 0, openParameters(p)))[0];
    expect(open({ customConfig: { call_id: 'from-config', other: 1 } })).toMatchObject({
      callId: 'from-config',
    });
    expect(open({ inputVariables: { call_id: 'from-flow' } })).toMatchObject({ callId: 'from-flow' });
    expect(open({ customConfig: { call_id: 'a' }, inputVariables: { call_id: 'b' } })).toMatchObject({
      callId: 'a',
    });
    expect(open({ customConfig: {} })).toMatchObject({ callId: null });
  });

  it('answers a request for supported languages with an empty list', () => {
    const events = send(
      createAudioHookParser(handshake()),
      message('open', 1, 0, openParameters({ supportedLanguages: true })),
    );
    expect(replies(events)[0]['parameters']).toEqual({
      media: [pcmu(STEREO)],
      startPaused: false,
      supportedLanguages: [],
    });
  });

  it('accepts upper-case UUIDs in the headers and the messages', () => {
    const parser = createAudioHookParser(
      handshake({
        [AUDIOHOOK_HEADER.sessionId]: SESSION_ID.toUpperCase(),
        [AUDIOHOOK_HEADER.organizationId]: ORG_ID.toUpperCase(),
      }),
    );
    const events = send(parser, message('open', 1, 0, openParameters(), { id: SESSION_ID.toUpperCase() }));
    expect(events.map((e) => e.type)).toEqual(['start', 'reply']);
    expect(send(parser, message('ping', 2, 1)).map((e) => e.type)).toEqual(['reply']);
  });

  it('takes the session id from the first message when the header is absent', () => {
    const parser = createAudioHookParser({ query: new URLSearchParams(), headers: {} });
    expect(send(parser, message('open', 1, 0, openParameters())).map((e) => e.type)).toEqual([
      'start',
      'reply',
    ]);
    const other = '11111111-2222-4333-8444-555555555555';
    const events = send(parser, message('ping', 2, 1, {}, { id: other }));
    expect(errorOf(events).message).toBe('id changed during the session');
    expect(replies(events)[0]).toMatchObject({ type: 'disconnect', id: SESSION_ID });
  });
});

describe('AudioHook parser: the rest of the protocol', () => {
  it('numbers its replies and echoes the last client seq', () => {
    const parser = opened();
    expect(replies(send(parser, message('ping', 2, 1)))).toEqual([
      { version: '2', type: 'pong', id: SESSION_ID, seq: 2, clientseq: 2, parameters: {} },
    ]);
    expect(send(parser, message('discarded', 3, 2, { start: 'PT1S', discarded: 'PT0.2S' }))).toEqual([
      { type: 'ignored', what: 'discarded' },
    ]);
    // serverseq may lag behind (a reply still in flight).
    expect(replies(send(parser, message('ping', 4, 1)))[0]).toMatchObject({ seq: 3, clientseq: 4 });
    expect(replies(send(parser, message('close', 5, 3, { reason: 'end' })))[0]).toMatchObject({
      type: 'closed',
      seq: 4,
      clientseq: 5,
    });
  });

  it('answers ping before open, and a close before open with closed only', () => {
    const parser = createAudioHookParser(handshake());
    expect(replies(send(parser, message('ping', 1, 0)))[0]).toMatchObject({
      type: 'pong',
      seq: 1,
      clientseq: 1,
    });
    const events = send(parser, message('close', 2, 1, { reason: 'error' }));
    expect(events.map((e) => e.type)).toEqual(['reply']);
    expect(replies(events)[0]).toMatchObject({ type: 'closed', seq: 2, clientseq: 2 });
    expect(stateOf(parser)).toBe(AudioHookState.CLOSED);
  });

  it('tracks paused and resumed, and ignores them out of place', () => {
    const parser = opened();
    expect(send(parser, message('resumed', 2, 1, { start: 'PT0S', discarded: 'PT0S' }))).toEqual([
      { type: 'ignored', what: 'resumed' },
    ]);
    expect(stateOf(parser)).toBe(AudioHookState.ACTIVE);
    expect(send(parser, message('paused', 3, 1))).toEqual([{ type: 'ignored', what: 'paused' }]);
    expect(stateOf(parser)).toBe(AudioHookState.PAUSED);
    expect(send(parser, message('paused', 4, 1))).toEqual([{ type: 'ignored', what: 'paused' }]);
    expect(replies(send(parser, message('ping', 5, 1)))[0]).toMatchObject({ type: 'pong' });
    send(parser, message('resumed', 6, 2, { start: 'PT7S', discarded: 'PT3S' }));
    expect(stateOf(parser)).toBe(AudioHookState.ACTIVE);
    expect(parser.parse(Buffer.alloc(320, 0xff), true)).toHaveLength(1);

    const early = createAudioHookParser(handshake());
    expect(send(early, message('paused', 1, 0))).toEqual([{ type: 'ignored', what: 'paused' }]);
    expect(stateOf(early)).toBe(AudioHookState.AWAITING_OPEN);
  });

  it('ignores update, error, Audio Connector messages and unknown types', () => {
    const parser = opened();
    let seq = 1;
    for (const [type, parameters] of [
      ['update', { language: 'es-US' }],
      ['error', { code: 429, message: 'Rate limit exceeded', retryAfter: 'PT3S' }],
      ['dtmf', { digit: '5' }],
      ['playback_completed', {}],
      ['future-thing', { anything: [1, 2] }],
    ] as const) {
      expect(send(parser, message(type, ++seq, 1, parameters))).toEqual([{ type: 'ignored', what: type }]);
    }
    expect(send(parser, message('x'.repeat(100), ++seq, 1))).toEqual([
      { type: 'ignored', what: 'x'.repeat(32) },
    ]);
    expect(stateOf(parser)).toBe(AudioHookState.ACTIVE);
  });

  it('accepts exactly 1 s of audio in one message, mono and stereo', () => {
    expect(opened().parse(Buffer.alloc(16_000), true)).toHaveLength(1);
    expect(opened({ media: [pcmu(['external'])] }).parse(Buffer.alloc(8000), true)).toHaveLength(1);
    expect(opened({ media: [pcmu(['external'])] }).parse(Buffer.alloc(1), true)).toHaveLength(1);
  });

  it('has nothing to flush', () => {
    expect(opened().flush()).toEqual([]);
  });
});

describe('AudioHook parser: bad input', () => {
  const openWith = (parameters: Json) => () =>
    send(createAudioHookParser(handshake()), message('open', 1, 0, openParameters(parameters)));
  const secondMessage = (m: unknown) => () => send(opened(), m);

  it.each([
    ['malformed JSON', () => send(opened(), '{"version":"2",'), 'message is not valid JSON'],
    ['a JSON array', () => send(opened(), '[1]'), 'message must be a JSON object'],
    ['version 1', secondMessage(message('ping', 2, 1, {}, { version: '1' })), 'version must be "2"'],
    ['a numeric version', secondMessage(message('ping', 2, 1, {}, { version: 2 })), 'version must be "2"'],
    [
      'no type',
      secondMessage(message('ping', 2, 1, {}, { type: undefined })),
      'type must be a non-empty string',
    ],
    ['an empty type', secondMessage(message('', 2, 1)), 'type must be a non-empty string'],
    [
      'an id that is no UUID',
      secondMessage(message('ping', 2, 1, {}, { id: 'ECHO-not-a-uuid' })),
      'id must be a UUID',
    ],
    [
      'an id of another session',
      secondMessage(message('ping', 2, 1, {}, { id: '11111111-2222-4333-8444-555555555555' })),
      'id does not match the Audiohook-Session-Id header',
    ],
    ['a seq gap', secondMessage(message('ping', 3, 1)), 'seq must be one more than the previous message'],
    [
      'a repeated seq',
      secondMessage(message('ping', 1, 1)),
      'seq must be one more than the previous message',
    ],
    [
      'a first seq of 0',
      () => send(createAudioHookParser(handshake()), message('open', 0, 0, openParameters())),
      'seq must be one more than the previous message',
    ],
    [
      'a string seq',
      secondMessage(message('ping', '2' as unknown as number, 1)),
      'seq must be a non-negative integer',
    ],
    ['a fractional seq', secondMessage(message('ping', 2.5, 1)), 'seq must be a non-negative integer'],
    [
      'a serverseq ahead',
      secondMessage(message('ping', 2, 2)),
      'serverseq is ahead of the messages earshot sent',
    ],
    [
      'a negative serverseq',
      secondMessage(message('ping', 2, -1)),
      'serverseq must be a non-negative integer',
    ],
    [
      'no position',
      secondMessage(message('ping', 2, 1, {}, { position: undefined })),
      /position must be a duration/,
    ],
    [
      'a bad position',
      secondMessage(message('ping', 2, 1, {}, { position: '5s' })),
      /position must be a duration/,
    ],
    [
      'no parameters',
      secondMessage(message('ping', 2, 1, {}, { parameters: undefined })),
      'parameters must be an object',
    ],
    [
      'array parameters',
      secondMessage(message('ping', 2, 1, {}, { parameters: [] })),
      'parameters must be an object',
    ],
    ['a second open', secondMessage(message('open', 2, 1, openParameters())), 'open received twice'],
    [
      'audio before open',
      () => createAudioHookParser(handshake()).parse(Buffer.alloc(320), true),
      'audio before open',
    ],
    ['empty audio', () => opened().parse(Buffer.alloc(0), true), 'audio message is empty'],
    ['odd stereo audio', () => opened().parse(Buffer.alloc(321), true), /even byte count/],
    [
      'audio while paused',
      () => {
        const parser = opened();
        send(parser, message('paused', 2, 1));
        return parser.parse(Buffer.alloc(320), true);
      },
      'audio while paused',
    ],
    [
      'audio after close',
      () => {
        const parser = opened();
        send(parser, message('close', 2, 1, { reason: 'end' }));
        return parser.parse(Buffer.alloc(320), true);
      },
      'audio after close',
    ],
    [
      'a message after close',
      () => {
        const parser = opened();
        send(parser, message('close', 2, 1, { reason: 'end' }));
        return send(parser, message('ping', 3, 2));
      },
      'message after close',
    ],
    [
      'a non-string close reason',
      secondMessage(message('close', 2, 1, { reason: 7 })),
      /reason must be a string/,
    ],
    [
      'an organizationId that is no UUID',
      openWith({ organizationId: 'ECHO' }),
      /organizationId must be a UUID/,
    ],
    [
      'no conversationId',
      openWith({ conversationId: undefined }),
      'open.parameters.conversationId is required',
    ],
    ['a conversationId of ..', openWith({ conversationId: '..' }), /conversationId must be 1-128/],
    ['a conversationId with a space', openWith({ conversationId: 'ECHO x' }), /conversationId must be 1-128/],
    [
      'a conversationId too long',
      openWith({ conversationId: 'a'.repeat(129) }),
      /conversationId must be 1-128/,
    ],
    [
      'a string customConfig',
      openWith({ customConfig: 'ECHO' }),
      'open.parameters.customConfig must be an object',
    ],
    [
      'a bad customConfig.call_id',
      openWith({ customConfig: { call_id: 'ECHO call' } }),
      /customConfig\.call_id must be 1-128/,
    ],
    [
      'a numeric customConfig.call_id',
      openWith({ customConfig: { call_id: 42 } }),
      /customConfig\.call_id must be/,
    ],
    [
      'a bad inputVariables.call_id',
      openWith({ inputVariables: { call_id: '.' } }),
      /inputVariables\.call_id must be/,
    ],
    ['an array inputVariables', openWith({ inputVariables: [] }), /inputVariables must be an object/],
    ['a string participant', openWith({ participant: 'ECHO' }), /participant must be an object/],
    ['a numeric ani', openWith({ participant: { ani: 5 } }), /participant\.ani must be a string/],
    ['a numeric dnis', openWith({ participant: { dnis: 5 } }), /participant\.dnis must be a string/],
    ['no media', openWith({ media: undefined }), 'open.parameters.media must be an array'],
    ['a media object', openWith({ media: pcmu(STEREO) }), 'open.parameters.media must be an array'],
    ['a media string', openWith({ media: ['PCMU'] }), 'open.parameters.media must hold objects'],
    [
      'media without channels',
      openWith({ media: [{ ...pcmu(STEREO), channels: undefined }] }),
      /channels must be an array/,
    ],
    ['PCMU with one channel twice', openWith({ media: [pcmu(['external', 'external'])] }), /1 or 2 distinct/],
    ['PCMU with an unknown channel', openWith({ media: [pcmu(['ECHO'])] }), /1 or 2 distinct/],
    ['PCMU with no channels', openWith({ media: [pcmu([])] }), /1 or 2 distinct/],
    [
      'PCMU with three channels',
      openWith({ media: [pcmu(['external', 'internal', 'external'])] }),
      /1 or 2 distinct/,
    ],
  ])('refuses %s with INVALID_PAYLOAD (1007)', (_what, fn, expected) => {
    const events = wellFormed(fn());
    const error = errorOf(events);
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.closeCode).toBe(1007);
    if (typeof expected === 'string') expect(error.message).toBe(expected);
    else expect(error.message).toMatch(expected);
    expect(error.message).not.toContain('ECHO');
  });

  it('tells Genesys why with a disconnect before the error, when it knows the session', () => {
    const events = send(opened(), message('ping', 3, 1));
    expect(events).toHaveLength(2);
    expect(replies(events)).toEqual([
      {
        version: '2',
        type: 'disconnect',
        id: SESSION_ID,
        seq: 2,
        clientseq: 1,
        parameters: { reason: 'error', info: 'seq must be one more than the previous message' },
      },
    ]);
    // Without a header nor a valid first message there is no session to address.
    const bare = createAudioHookParser({ query: new URLSearchParams(), headers: {} });
    expect(bare.parse(text('nope'), false).map((e) => e.type)).toEqual(['error']);
    // After closed, nothing more is sent.
    const closed = opened();
    send(closed, message('close', 2, 1, { reason: 'end' }));
    expect(closed.parse(Buffer.alloc(2), true).map((e) => e.type)).toEqual(['error']);
  });

  it('refuses an organization other than the header with UNAUTHORIZED (1008), disconnecting as unauthorized', () => {
    const events = send(
      createAudioHookParser(handshake()),
      message('open', 1, 0, openParameters({ organizationId: '11111111-2222-4333-8444-555555555555' })),
    );
    const error = errorOf(events);
    expect(error.code).toBe('UNAUTHORIZED');
    expect(error.closeCode).toBe(1008);
    expect(replies(events)[0]['parameters']).toMatchObject({ reason: 'unauthorized' });
    expect(events.some((e) => e.type === 'start')).toBe(false);
  });

  it.each([
    ['L16 only', [{ ...pcmu(STEREO), format: 'L16' }], '(L16/8000)'],
    ['PCMU at 16 kHz', [pcmu(STEREO, { rate: 16000 })], '(PCMU/16000)'],
    ['an unknown format', [{ ...pcmu(STEREO), format: 'ECHO-codec', rate: 12345 }], '(other)'],
    [
      'several, named at most three times',
      [
        { ...pcmu(STEREO), format: 'L16' },
        { ...pcmu(STEREO), format: 'PCMA' },
        { ...pcmu(STEREO), format: 'opus', rate: 48000 },
        { ...pcmu(STEREO), format: 'L16', rate: 16000 },
      ],
      '(L16/8000, PCMA/8000, opus/48000)',
    ],
    ['nothing', [], '(none)'],
  ])('refuses an open offering %s with UNSUPPORTED_DATA (1003) naming the offer', (_what, media, named) => {
    const events = wellFormed(
      send(createAudioHookParser(handshake()), message('open', 1, 0, openParameters({ media }))),
    );
    const error = errorOf(events);
    expect(error.code).toBe('UNSUPPORTED_DATA');
    expect(error.closeCode).toBe(1003);
    expect(error.message).toBe(`no supported media offered ${named}; earshot takes PCMU/8000`);
    expect(error.message).not.toContain('ECHO');
    expect(replies(events)).toEqual([
      {
        version: '2',
        type: 'disconnect',
        id: SESSION_ID,
        seq: 1,
        clientseq: 1,
        parameters: { reason: 'error', info: error.message },
      },
    ]);
  });

  it('refuses audio above 1 s and text above 64 KiB with MESSAGE_TOO_BIG (1009)', () => {
    for (const [parser, bytes] of [
      [opened(), 16_002],
      [opened({ media: [pcmu(['internal'])] }), 8001],
    ] as const) {
      const error = errorOf(parser.parse(Buffer.alloc(bytes), true));
      expect(error.code).toBe('MESSAGE_TOO_BIG');
      expect(error.closeCode).toBe(1009);
    }
    const big = Buffer.alloc(AUDIOHOOK_MAX_MESSAGE_BYTES + 1, 0x20);
    expect(errorOf(opened().parse(big, false)).code).toBe('MESSAGE_TOO_BIG');
  });

  it('answers every message after an error with the same error and nothing else', () => {
    const parser = opened();
    const first = send(parser, message('ping', 5, 1));
    const error = errorOf(first);
    expect(stateOf(parser)).toBe(AudioHookState.FAILED);
    for (const again of [send(parser, message('ping', 2, 1)), parser.parse(Buffer.alloc(320), true)]) {
      expect(again).toEqual([{ type: 'error', error }]);
    }
    expect(parser.flush()).toEqual([]);
  });
});

describe('AudioHook parser: properties', () => {
  const clientTypes = ['open', 'ping', 'close', 'paused', 'resumed', 'discarded', 'update', 'error', 'dtmf'];

  it('never throws on random text, JSON or binary messages, and every event is well-formed', () => {
    const jsonShaped = fc.record(
      {
        version: fc.constantFrom('2', 2, '1'),
        id: fc.constantFrom(SESSION_ID, 'x', '11111111-2222-4333-8444-555555555555'),
        type: fc.constantFrom(...clientTypes),
        seq: fc.oneof(fc.integer({ min: -1, max: 4 }), fc.constant('1')),
        serverseq: fc.integer({ min: -1, max: 3 }),
        position: fc.constantFrom('PT0S', 'PT1.5S', 'P1S'),
        parameters: fc.oneof(fc.constant(openParameters()), fc.dictionary(fc.string(), fc.jsonValue())),
      },
      { requiredKeys: [] },
    );
    assertRandomMessages({
      parser: fc.boolean().map((open) => () => (open ? opened() : createAudioHookParser(handshake()))),
      message: anyMessage(jsonShaped, { maxBinaryBytes: 400 }),
      rules: RULES,
      maxMessages: 8,
    });
  });

  it('never throws on a valid session cut at a random point and followed by anything', () => {
    const session: WireMessage[] = sessionLines('call-1', 'eik_x').slice(1).map(wireMessageOf);
    assertSessionCutThenAnything({
      parser: () => createAudioHookParser(handshake()),
      session,
      tail: fc.oneof(
        fc.uint8Array({ maxLength: 40 }).map((b) => ({ data: Buffer.from(b), isBinary: true })),
        fc.jsonValue().map((t) => textMessage(t)),
        fc.constantFrom(...session),
      ),
      rules: RULES,
    });
  });

  it('never throws on an open with one field replaced or removed', () => {
    const paths = [
      ['organizationId'],
      ['conversationId'],
      ['participant'],
      ['participant', 'ani'],
      ['participant', 'dnis'],
      ['media'],
      ['media', 0],
      ['media', 0, 'channels'],
      ['media', 0, 'format'],
      ['media', 0, 'rate'],
      ['media', 0, 'channels', 0],
      ['customConfig'],
      ['customConfig', 'call_id'],
      ['inputVariables'],
      ['supportedLanguages'],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...paths), fc.option(fc.jsonValue(), { nil: undefined }), (path, value) => {
        const parameters = structuredClone(openParameters({ customConfig: { call_id: 'c' } })) as Json;
        let target = parameters as Record<string | number, unknown>;
        for (const key of path.slice(0, -1)) {
          if (typeof target[key] !== 'object' || target[key] === null) return;
          target = target[key] as Record<string | number, unknown>;
        }
        target[path[path.length - 1]] = value;
        const events = wellFormed(
          send(createAudioHookParser(handshake()), message('open', 1, 0, parameters)),
        );
        expect(['start', 'error']).toContain(events[0].type === 'reply' ? events[1].type : events[0].type);
      }),
    );
  });

  it('keeps the sequence numbers of any valid run of messages', () => {
    const run = fc.array(
      fc.constantFrom('ping', 'paused', 'resumed', 'discarded', 'update', 'error', 'dtmf'),
      {
        maxLength: 30,
      },
    );
    fc.assert(
      fc.property(run, (types) => {
        const parser = opened();
        let serverSeq = 1;
        types.forEach((type, i) => {
          const seq = i + 2;
          const events = wellFormed(send(parser, message(type, seq, serverSeq)));
          for (const reply of replies(events)) {
            expect(reply).toMatchObject({ seq: ++serverSeq, clientseq: seq });
          }
        });
        const closed = replies(send(parser, message('close', types.length + 2, serverSeq)));
        expect(closed).toEqual([
          {
            version: '2',
            type: 'closed',
            id: SESSION_ID,
            seq: serverSeq + 1,
            clientseq: types.length + 2,
            parameters: {},
          },
        ]);
      }),
    );
  });

  it('delivers the same audio however it is split across binary messages', () => {
    assertAudioSurvivesSplitting({
      parser: () => opened(),
      message: (piece) => ({ data: piece, isBinary: true }),
      sampleBytes: 2,
      maxPieceSamples: 900,
    });
  });
});
