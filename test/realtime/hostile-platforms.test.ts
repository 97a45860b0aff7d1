import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { platformNamed } from '../../src/ingest/platforms.js';
import { type BystanderReport, startBystander } from '../helpers/bystander.js';
import { signAudioHookUpgrade } from '../helpers/platform-session.js';
import { startServerProcess } from '../helpers/server-process.js';

/**
 * SPEC §4.3–4.5, bad input on every platform's endpoint: against one real `earshot serve` process,
 * each of Twilio, Telnyx, Plivo, Exotel, Vonage, AudioHook and Asterisk is sent malformed JSON, a codec it
 * cannot take, media before its start, no credential, a wrong or revoked one (on the upgrade, in the
 * platform's own header, in the start message), a message over its bound, and — on the text-only
 * protocols — a binary message; AudioHook also gets unsigned, badly signed, stale and replayed
 * upgrades for a key with a client secret. Each gets the clear refusal (the close code and a short
 * reason that never echoes what the client sent, or HTTP 401 and no socket) and is counted in
 * /metrics. Meanwhile a bystander call plays (one per platform, its tone fed and listened to in a
 * worker thread): its listener hears no gap over 100 ms and is never closed.
 */

/** Sent inside hostile messages: no close reason or refusal may repeat it. */
const CANARY = '«canary-5c1e»';
const CLIENT_SECRET = Buffer.from('the AudioHook client secret of the hostile test').toString('base64');
const OTHER_SECRET = Buffer.from('a secret that is not the key’s').toString('base64');
/** 20 ms of μ-law silence (8 kHz) and of PCM16 silence (8 kHz), base64. */
const MULAW_20MS = Buffer.alloc(160, 0xff).toString('base64');
const PCM16_20MS = Buffer.alloc(320).toString('base64');
/** A close reason is at most 123 bytes (RFC 6455 §5.5); "short" here is well under that. */
const MAX_REASON_CHARS = 120;
const CLOSE_WITHIN_MS = 5000;

type Msg = string | Buffer;
type Upgrade = { query?: Record<string, string>; headers?: Record<string, string> };

/** The credentials the cases use, made once the server runs. */
interface Keys {
  /** A live ingest key (no client secret). */
  readonly key: string;
  /** An ingest key created with the AudioHook client secret. */
  readonly signedKey: string;
  /** An ingest key that was revoked. */
  readonly revoked: string;
  /** The live key with its last character changed: the form of an ingest key, unknown to the server. */
  readonly forged: string;
}

interface Platform {
  readonly name: string;
  /** The protocol is JSON text only: a binary message is refused with 1003. */
  readonly textOnly: boolean;
  /** Whether its start message can carry a credential (AudioHook's `open` cannot). */
  readonly startCredential: boolean;
  /** Headers every upgrade of this platform carries (AudioHook's session headers). */
  readonly baseHeaders: Record<string, string>;
  /** A credential given on the upgrade the platform's own way (its header), else `?token=`. */
  upgradeWith(credential: string): Upgrade;
  /** True when `upgradeWith` uses the platform's own header rather than `?token=`. */
  readonly ownHeader: boolean;
  /** The start message(s): naming `callId`, with `credential` inside (null: none), in `format` (else the default). */
  start(o: { callId: string; credential: string | null; format?: unknown }): Msg[];
  /** One media message as the platform sends it after its start. */
  media(): Msg;
  /** Formats the platform cannot decode: the start message's format field, and what the close says. */
  readonly codecs: readonly CodecCase[];
  /** Audio before the start is held, not refused (Asterisk: asterisk#1712). */
  readonly holdsEarlyAudio?: boolean;
}

interface CodecCase {
  readonly what: string;
  readonly format: unknown;
  readonly close: number;
  readonly code: string;
  readonly reason: RegExp;
}

const AH_ORG = 'd7934305-0972-4844-938e-9060eef73d05';
const AH_SESSION = '30b0e395-84d3-4570-ac13-9a62d8f514c0';
const AH_HEADERS = {
  'audiohook-organization-id': AH_ORG,
  'audiohook-session-id': AH_SESSION,
  'audiohook-correlation-id': 'e160e428-53e2-487c-977d-96989bf5c99d',
};
const AH_PCMU_STEREO = [{ type: 'audio', format: 'PCMU', channels: ['external', 'internal'], rate: 8000 }];

const PLATFORMS: readonly Platform[] = [
  {
    name: 'twilio',
    textOnly: true,
    startCredential: true,
    baseHeaders: {},
    ownHeader: false,
    upgradeWith: (credential) => ({ query: { token: credential } }),
    start: ({ callId, credential, format }) => [
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        start: {
          accountSid: 'AC0',
          streamSid: 'MZ0',
          callSid: callId,
          tracks: ['inbound'],
          mediaFormat: format ?? { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
          customParameters: credential === null ? {} : { token: credential },
        },
        streamSid: 'MZ0',
      }),
    ],
    media: () =>
      JSON.stringify({
        event: 'media',
        sequenceNumber: '2',
        media: { track: 'inbound', chunk: '1', timestamp: '0', payload: MULAW_20MS },
        streamSid: 'MZ0',
      }),
    codecs: [
      {
        // Twilio's parser refuses any other format as malformed (1007), naming what it takes.
        what: 'an Opus media format',
        format: { encoding: 'audio/x-opus', sampleRate: 48000, channels: 1 },
        close: 1007,
        code: 'INVALID_PAYLOAD',
        reason: /audio\/x-mulaw/,
      },
    ],
  },
  {
    name: 'telnyx',
    textOnly: true,
    startCredential: true,
    baseHeaders: {},
    ownHeader: true,
    upgradeWith: (credential) => ({ headers: { 'x-telnyx-streaming-auth-token': credential } }),
    start: ({ callId, credential, format }) => [
      JSON.stringify({
        event: 'start',
        sequence_number: '1',
        stream_id: '32de0dea-53cb-4b21-89a4-9e1819c043bc',
        start: {
          call_control_id: callId,
          from: '+13122010094',
          to: '+13122123456',
          custom_parameters: credential === null ? {} : { token: credential },
          media_format: format ?? { encoding: 'PCMU', sample_rate: 8000, channels: 1 },
        },
      }),
    ],
    media: () =>
      JSON.stringify({
        event: 'media',
        sequence_number: '2',
        media: { track: 'inbound', chunk: '1', timestamp: '0', payload: MULAW_20MS },
        stream_id: '32de0dea-53cb-4b21-89a4-9e1819c043bc',
      }),
    codecs: [
      {
        what: 'OPUS',
        format: { encoding: 'OPUS', sample_rate: 16000, channels: 1 },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /codec OPUS is not supported/,
      },
      {
        what: 'G722',
        format: { encoding: 'G722', sample_rate: 8000, channels: 1 },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /codec G722 is not supported/,
      },
      {
        // An unknown name is refused without being repeated.
        what: 'an unknown codec name',
        format: { encoding: CANARY, sample_rate: 8000, channels: 1 },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /not a supported codec/,
      },
    ],
  },
  {
    name: 'plivo',
    textOnly: true,
    startCredential: true,
    baseHeaders: {},
    ownHeader: false,
    upgradeWith: (credential) => ({ query: { token: credential } }),
    start: ({ callId, credential, format }) => [
      JSON.stringify({
        event: 'start',
        sequenceNumber: 1,
        start: {
          callId,
          streamId: '87654321-4321-4321-4321-cba987654321',
          accountId: 'MAXXXXXXXXXXXXXXXXXX',
          tracks: ['inbound'],
          mediaFormat: format ?? { encoding: 'audio/x-mulaw', sampleRate: 8000 },
        },
        ...(credential === null ? {} : { extra_headers: `token=${credential}` }),
      }),
    ],
    media: () =>
      JSON.stringify({
        event: 'media',
        sequenceNumber: 2,
        streamId: '87654321-4321-4321-4321-cba987654321',
        media: { track: 'inbound', timestamp: '1705312200000', chunk: 1, payload: MULAW_20MS },
      }),
    codecs: [
      {
        what: 'an Opus encoding',
        format: { encoding: 'audio/x-opus', sampleRate: 48000 },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /encoding is not supported/,
      },
      {
        // Plivo refuses an unsupported rate as malformed (1007, as its fixture README's table says),
        // not 1003 naming the rate as docs/api.md says of every platform: see the report.
        what: 'L16 at 24 kHz',
        format: { encoding: 'audio/x-l16', sampleRate: 24000 },
        close: 1007,
        code: 'INVALID_PAYLOAD',
        reason: /8000 or 16000/,
      },
    ],
  },
  {
    name: 'exotel',
    textOnly: true,
    startCredential: true,
    baseHeaders: {},
    ownHeader: true,
    upgradeWith: (credential) => ({
      headers: { authorization: `Basic ${Buffer.from(`exotel:${credential}`).toString('base64')}` },
    }),
    start: ({ callId, credential, format }) => [
      JSON.stringify({
        event: 'start',
        sequence_number: '1',
        stream_sid: 'b2c6f9e0a4d84c3e9f1a7d5b8c0e2f41',
        start: {
          stream_sid: 'b2c6f9e0a4d84c3e9f1a7d5b8c0e2f41',
          call_sid: callId,
          account_sid: 'acmecorp1',
          from: '+919876543210',
          to: '+918047491899',
          custom_parameters: credential === null ? {} : { token: credential },
          media_format: format ?? { encoding: 'base64', sample_rate: '8000', bit_rate: '128kbps' },
        },
      }),
    ],
    media: () =>
      JSON.stringify({
        event: 'media',
        sequence_number: '2',
        stream_sid: 'b2c6f9e0a4d84c3e9f1a7d5b8c0e2f41',
        media: { chunk: '1', timestamp: '0', payload: PCM16_20MS },
      }),
    codecs: [
      {
        what: 'A-law',
        format: { encoding: 'audio/x-alaw', sample_rate: '8000' },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /'audio\/x-alaw' is not supported/,
      },
      {
        what: 'PCM at 44.1 kHz',
        format: { encoding: 'audio/x-raw', sample_rate: '44100', bit_rate: '16' },
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /sample rate 44100 Hz is not supported/,
      },
    ],
  },
  {
    name: 'vonage',
    textOnly: false,
    startCredential: true,
    baseHeaders: {},
    ownHeader: true,
    upgradeWith: (credential) => ({ headers: { authorization: `Bearer ${credential}` } }),
    start: ({ callId, credential, format }) => [
      JSON.stringify({
        event: 'websocket:connected',
        'content-type': format ?? 'audio/l16;rate=16000',
        uuid: callId,
        ...(credential === null ? {} : { token: credential }),
        from: '447700900000',
        to: '447700900001',
      }),
    ],
    media: () => Buffer.alloc(640),
    codecs: [
      {
        what: 'L16 at 44.1 kHz',
        format: 'audio/l16;rate=44100',
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /sample rate 44100 Hz is not supported/,
      },
      {
        what: 'a μ-law content type',
        format: 'audio/pcmu;rate=8000',
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /content-type 'audio\/pcmu' is not supported/,
      },
    ],
  },
  {
    name: 'audiohook',
    textOnly: false,
    startCredential: false,
    baseHeaders: AH_HEADERS,
    ownHeader: true,
    upgradeWith: (credential) => ({ headers: { 'x-api-key': credential } }),
    start: ({ callId, format }) => [
      audioHookOpen({ conversationId: callId, media: format ?? AH_PCMU_STEREO }),
    ],
    media: () => Buffer.alloc(320, 0xff),
    codecs: [
      {
        what: 'an open offering no PCMU',
        format: [
          { type: 'audio', format: 'L16', channels: ['external', 'internal'], rate: 8000 },
          { type: 'audio', format: 'L16', channels: ['external'], rate: 16000 },
        ],
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /no supported media offered \(L16\/8000, L16\/16000\)/,
      },
    ],
  },
  {
    name: 'asterisk',
    textOnly: false,
    startCredential: false,
    baseHeaders: {},
    ownHeader: true,
    // Asterisk's websocket_client.conf username/password: HTTP Basic, the password an ingest key.
    upgradeWith: (credential) => ({
      headers: { authorization: `Basic ${Buffer.from(`asterisk:${credential}`).toString('base64')}` },
    }),
    start: ({ callId, format }) => [
      `MEDIA_START connection_id:e226e283-c90a-4ea9-9e37-389000b9ef47 channel:WebSocket/earshot-1 channel_id:${callId} format:${format ?? 'ulaw'} optimal_frame_size:160 ptime:20`,
    ],
    media: () => Buffer.alloc(160, 0xff),
    holdsEarlyAudio: true,
    codecs: [
      {
        what: 'G.722',
        format: 'g722',
        close: 1003,
        code: 'UNSUPPORTED_DATA',
        reason: /Asterisk format 'g722' is not supported/,
      },
    ],
  },
];

function audioHookOpen(o: { conversationId: string; media: unknown; organizationId?: string }): string {
  return JSON.stringify({
    version: '2',
    id: AH_SESSION,
    type: 'open',
    seq: 1,
    serverseq: 0,
    position: 'PT0S',
    parameters: {
      organizationId: o.organizationId ?? AH_ORG,
      conversationId: o.conversationId,
      participant: { id: '883efee8-3d6c-4537-b500-6d7ca4b92fa0', ani: '+13175550123', dnis: '+18005550100' },
      media: o.media,
    },
  });
}

/** What a case expects: the socket opens and is closed so, or the upgrade is refused so. */
type Expected =
  | { readonly close: number; readonly code: string; readonly reason: RegExp }
  | { readonly status: number; readonly code: string; readonly message: RegExp };

interface Case {
  readonly what: string;
  readonly expected: Expected;
  /** Whether the refusal counts a failed authentication too (default: every UNAUTHORIZED). */
  readonly authFailure?: boolean;
  /** The upgrade and the messages, once the keys exist; `secrets` must not come back in the refusal. */
  build(k: Keys): { upgrade: Upgrade; send: Msg[]; secrets?: string[] };
}

let callCounter = 0;
const newCallId = (platform: string) => `hostile-${platform}-${++callCounter}`;

/** The cases of one platform, in the order they run. */
function casesOf(p: Platform): Case[] {
  const max = platformNamed(p.name)?.maxMessageBytes as number;
  const cases: Case[] = [
    {
      what: 'malformed JSON',
      expected: { close: 1007, code: 'INVALID_PAYLOAD', reason: /not valid JSON/ },
      build: (k) => ({
        upgrade: p.upgradeWith(k.key),
        send: [`{"event":"start","version":"2","type":"open","note":"${CANARY}",}`],
      }),
    },
    ...(p.holdsEarlyAudio
      ? []
      : [
          {
            what: 'media before the start',
            expected: { close: 1007, code: 'INVALID_PAYLOAD', reason: /before/ },
            build: (k: Keys) => ({ upgrade: p.upgradeWith(k.key), send: [p.media()] }),
          },
        ]),
    ...p.codecs.map(
      (c): Case => ({
        what: `a codec it cannot decode: ${c.what}`,
        expected: { close: c.close, code: c.code, reason: c.reason },
        build: (k) => ({
          upgrade: p.upgradeWith(k.key),
          send: p.start({ callId: newCallId(p.name), credential: null, format: c.format }),
        }),
      }),
    ),
    {
      what: 'no credential on the upgrade nor in the start',
      expected: { close: 1008, code: 'UNAUTHORIZED', reason: /required/ },
      build: () => ({ upgrade: {}, send: p.start({ callId: newCallId(p.name), credential: null }) }),
    },
    {
      what: '?token=wrong on the upgrade',
      expected: { status: 401, code: 'UNAUTHORIZED', message: /not valid/ },
      build: () => ({ upgrade: { query: { token: 'wrong' } }, send: [] }),
    },
    {
      what: 'a revoked ingest key on the upgrade (?token=)',
      expected: { status: 401, code: 'UNAUTHORIZED', message: /unknown or revoked/ },
      build: (k) => ({ upgrade: { query: { token: k.revoked } }, send: [], secrets: [k.revoked] }),
    },
    {
      what: 'an oversized message (over the socket bound)',
      // `ws` refuses it before earshot reads it: 1009 with no reason, counted by the endpoint.
      expected: { close: 1009, code: 'MESSAGE_TOO_BIG', reason: /^$/ },
      build: (k) => ({ upgrade: p.upgradeWith(k.key), send: [`"${CANARY}${'a'.repeat(max)}"`] }),
    },
  ];
  if (p.ownHeader)
    cases.push(
      {
        what: "an unknown ingest key in the platform's own upgrade header",
        expected: { status: 401, code: 'UNAUTHORIZED', message: /unknown or revoked/ },
        build: (k) => ({ upgrade: p.upgradeWith(k.forged), send: [], secrets: [k.forged] }),
      },
      {
        what: "a revoked ingest key in the platform's own upgrade header",
        expected: { status: 401, code: 'UNAUTHORIZED', message: /unknown or revoked/ },
        build: (k) => ({ upgrade: p.upgradeWith(k.revoked), send: [], secrets: [k.revoked] }),
      },
    );
  if (p.startCredential)
    cases.push(
      {
        what: 'an unknown ingest key in the start message',
        expected: { close: 1008, code: 'UNAUTHORIZED', reason: /unknown or revoked/ },
        build: (k) => ({
          upgrade: {},
          send: p.start({ callId: newCallId(p.name), credential: k.forged }),
          secrets: [k.forged],
        }),
      },
      {
        what: 'a wrong ingest token in the start message',
        expected: { close: 1008, code: 'UNAUTHORIZED', reason: /not valid/ },
        build: () => {
          const token = `${CANARY}-not-a-token`;
          return {
            upgrade: {},
            send: p.start({ callId: newCallId(p.name), credential: token }),
            secrets: [token],
          };
        },
      },
      {
        what: 'a revoked ingest key in the start message',
        expected: { close: 1008, code: 'UNAUTHORIZED', reason: /unknown or revoked/ },
        build: (k) => ({
          upgrade: {},
          send: p.start({ callId: newCallId(p.name), credential: k.revoked }),
          secrets: [k.revoked],
        }),
      },
    );
  else if (p.name === 'audiohook')
    cases.push({
      // AudioHook's open carries no credential; its authorization inside the protocol is the
      // organization the signed header names.
      what: "an open naming another organization than the upgrade's header",
      expected: { close: 1008, code: 'UNAUTHORIZED', reason: /organizationId does not match/ },
      // The parser refuses it, before any credential is looked up: not a failed authentication.
      authFailure: false,
      build: (k) => ({
        upgrade: p.upgradeWith(k.key),
        send: [
          audioHookOpen({
            conversationId: newCallId(p.name),
            media: AH_PCMU_STEREO,
            organizationId: randomUUID(),
          }),
        ],
      }),
    });
  if (p.textOnly)
    cases.push(
      {
        what: 'a binary message on a text-only protocol',
        expected: { close: 1003, code: 'UNSUPPORTED_DATA', reason: /must be text/ },
        build: (k) => ({ upgrade: p.upgradeWith(k.key), send: [Buffer.from(`${CANARY}\u0000\u0001`)] }),
      },
      {
        what: 'a text message over the protocol bound, within the socket bound',
        expected: { close: 1009, code: 'MESSAGE_TOO_BIG', reason: /exceeds 65536 characters/ },
        build: (k) => ({
          upgrade: p.upgradeWith(k.key),
          send: [JSON.stringify({ event: 'media', pad: `${CANARY}${'a'.repeat(70_000)}` })],
        }),
      },
    );
  if (p.name === 'audiohook') {
    // With a key that has a client secret, the upgrade must be signed (RFC 9421), freshly.
    const signed = (k: Keys, secret: string, createdS?: number): Upgrade => {
      const headers = { ...AH_HEADERS, 'x-api-key': k.signedKey };
      return {
        headers: {
          ...headers,
          ...signAudioHookUpgrade(
            { target: '/ws/audiohook', authority: host(), headers },
            k.signedKey,
            secret,
            {
              createdS,
            },
          ),
        },
      };
    };
    cases.push(
      {
        what: 'an unsigned upgrade with a key that has a client secret',
        expected: { status: 401, code: 'UNAUTHORIZED', message: /missing Signature-Input or Signature/ },
        build: (k) => ({ upgrade: p.upgradeWith(k.signedKey), send: [], secrets: [k.signedKey] }),
      },
      {
        what: 'a bad signature (another secret)',
        expected: { status: 401, code: 'UNAUTHORIZED', message: /signature does not match/ },
        build: (k) => ({ upgrade: signed(k, OTHER_SECRET), send: [], secrets: [k.signedKey] }),
      },
      {
        what: 'a stale signature (created 60 s ago)',
        expected: { status: 401, code: 'UNAUTHORIZED', message: /too old|expired/ },
        build: (k) => ({
          upgrade: signed(k, CLIENT_SECRET, Math.floor(Date.now() / 1000) - 60),
          send: [],
          secrets: [k.signedKey],
        }),
      },
    );
  }
  return cases;
}

let wsBase = '';
const host = () => new URL(wsBase).host;

function urlOf(p: Platform, upgrade: Upgrade): string {
  const query = new URLSearchParams(upgrade.query ?? {}).toString();
  return `${wsBase}/ws/${p.name}${query ? `?${query}` : ''}`;
}

type Connection =
  | {
      readonly ws: WebSocket;
      readonly closed: Promise<{ code: number; reason: string }>;
      readonly texts: string[];
    }
  | { readonly refused: { status: number; body: string } };

/** Opens a socket; resolves with it once open, or with the HTTP refusal of its upgrade. */
function connect(url: string, headers: Record<string, string>): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const texts: string[] = [];
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.once('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.on('message', (data, isBinary) => {
      if (!isBinary) texts.push(data.toString());
    });
    ws.once('open', () => resolve({ ws, closed, texts }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ refused: { status: res.statusCode ?? 0, body } }));
    });
    // A write cut short by the server's close (the oversized message) errors here: the close
    // event still reports the code the server sent.
    ws.on('error', (err) => {
      if (ws.readyState === ws.CONNECTING && !String(err.message).includes('Unexpected server response'))
        reject(err);
    });
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One sample of a counter with exactly these labels in Prometheus text (0 when absent). */
function sample(metrics: string, name: string, labels: Record<string, string>): number {
  for (const line of metrics.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const want = Object.entries(labels);
    if (Object.keys(got).length === want.length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

describe('bad input on every platform, with a bystander call playing', () => {
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let keys: Keys;

  const ingestKey = async (body: Record<string, string>) => {
    const res = await server.request('/v1/ingest-keys', {
      method: 'POST',
      apiKey: server.apiKey,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { data: { ingest_key: string; prefix: string } };
    expect(res.status, JSON.stringify(json)).toBe(200);
    return json.data;
  };

  /** The three counters a refusal moves, for this platform and error code. */
  const counters = async (platform: string, code: string) => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    return {
      platform: sample(metrics, 'earshot_ingest_platform_errors_total', { platform, code }),
      ingest: sample(metrics, 'earshot_ingest_errors_total', { code }),
      auth: sample(metrics, 'earshot_auth_failures_total', { outcome: 'failed' }),
    };
  };

  beforeAll(async () => {
    // Every wrong credential counts a failed authentication of 127.0.0.1; the ~40 of this file
    // would pass the default 30 a minute and turn later refusals into 429s.
    server = await startServerProcess({ EARSHOT_AUTH_FAILURES_PER_MIN: '100000' });
    wsBase = server.url.replace(/^http/, 'ws');
    const live = await ingestKey({ name: 'hostile' });
    const signed = await ingestKey({ name: 'hostile audiohook', client_secret: CLIENT_SECRET });
    const revoked = await ingestKey({ name: 'hostile revoked' });
    const deleted = await server.request(`/v1/ingest-keys/${revoked.prefix}`, {
      method: 'DELETE',
      apiKey: server.apiKey,
    });
    expect(deleted.status).toBe(200);
    const last = live.ingest_key.at(-1) === 'A' ? 'B' : 'A';
    keys = {
      key: live.ingest_key,
      signedKey: signed.ingest_key,
      revoked: revoked.ingest_key,
      forged: live.ingest_key.slice(0, -1) + last,
    };
  });
  afterAll(async () => {
    expect(server?.node.child.exitCode, 'the server process exited').toBeNull();
    await server?.close();
  });

  async function runCase(p: Platform, c: Case): Promise<void> {
    const { upgrade, send, secrets = [] } = c.build(keys);
    const code = c.expected.code;
    const before = await counters(p.name, code);
    const conn = await connect(urlOf(p, upgrade), { ...p.baseHeaders, ...upgrade.headers });
    const echoes = [CANARY, ...secrets];
    if ('status' in c.expected) {
      // Refused before the upgrade: an HTTP error with the envelope, no WebSocket.
      if (!('refused' in conn)) {
        conn.ws.terminate();
        throw new Error('the upgrade was accepted');
      }
      expect(conn.refused.status).toBe(c.expected.status);
      const body = JSON.parse(conn.refused.body);
      expect(body.errors[0].code).toBe(c.expected.code);
      expect(body.errors[0].message).toMatch(c.expected.message);
      for (const echo of echoes) expect(conn.refused.body.toLowerCase()).not.toContain(echo.toLowerCase());
      const after = await counters(p.name, code);
      // A wrong credential at the upgrade counts a failed authentication (docs/api.md), not an ingest error.
      expect(after.auth).toBe(before.auth + 1);
      return;
    }
    if ('refused' in conn) throw new Error(`upgrade refused: ${conn.refused.status} ${conn.refused.body}`);
    for (const m of send) {
      if (conn.ws.readyState !== conn.ws.OPEN) break;
      conn.ws.send(m);
    }
    const closed = await within(conn.closed, CLOSE_WITHIN_MS, 'the server closed the socket');
    expect(closed.code, `reason: ${closed.reason}`).toBe(c.expected.close);
    expect(closed.reason).toMatch(c.expected.reason);
    expect(closed.reason.length).toBeLessThanOrEqual(MAX_REASON_CHARS);
    for (const echo of echoes) expect(closed.reason.toLowerCase()).not.toContain(echo.toLowerCase());
    const after = await counters(p.name, code);
    expect(after.platform, `earshot_ingest_platform_errors_total{platform="${p.name}",code="${code}"}`).toBe(
      before.platform + 1,
    );
    expect(after.ingest, `earshot_ingest_errors_total{code="${code}"}`).toBe(before.ingest + 1);
    if (c.authFailure ?? code === 'UNAUTHORIZED') expect(after.auth).toBe(before.auth + 1);
    if (p.name === 'audiohook' && c.expected.code === 'UNSUPPORTED_DATA') {
      // AudioHook tells Genesys why before closing (its `disconnect`), in the same short words.
      const disconnect = conn.texts.map((t) => JSON.parse(t)).find((m) => m.type === 'disconnect');
      expect(disconnect?.parameters).toEqual({ reason: 'error', info: closed.reason });
    }
  }

  for (const p of PLATFORMS) {
    describe(p.name, () => {
      let bystander: Awaited<ReturnType<typeof startBystander>> | undefined;
      let report: BystanderReport | undefined;
      beforeAll(async () => {
        bystander = await startBystander(server, server.apiKey);
      });
      afterAll(async () => {
        if (!report) await bystander?.stop();
      });

      it.each(casesOf(p).map((c) => [c.what, c] as const))('%s', async (_what, c) => {
        await runCase(p, c);
      });

      if (p.name === 'audiohook')
        it('a replayed signature (the same nonce twice): the second upgrade is refused 401', async () => {
          const headers = { ...AH_HEADERS, 'x-api-key': keys.signedKey };
          const signedHeaders = {
            ...headers,
            ...signAudioHookUpgrade(
              { target: '/ws/audiohook', authority: host(), headers },
              keys.signedKey,
              CLIENT_SECRET,
            ),
          };
          const first = await connect(`${wsBase}/ws/audiohook`, signedHeaders);
          if ('refused' in first)
            throw new Error(`the first, fresh upgrade was refused: ${first.refused.body}`);
          first.ws.close();
          await first.closed;
          const before = await counters(p.name, 'UNAUTHORIZED');
          const second = await connect(`${wsBase}/ws/audiohook`, signedHeaders);
          if (!('refused' in second)) {
            second.ws.terminate();
            throw new Error('the replayed upgrade was accepted');
          }
          expect(second.refused.status).toBe(401);
          const body = JSON.parse(second.refused.body);
          expect(body.errors[0]).toMatchObject({
            code: 'UNAUTHORIZED',
            message: expect.stringMatching(/already used/),
          });
          expect(second.refused.body).not.toContain(keys.signedKey);
          expect((await counters(p.name, 'UNAUTHORIZED')).auth).toBe(before.auth + 1);
        });

      it('the bystander call heard no gap over 100 ms and was not closed', async () => {
        report = await (bystander as NonNullable<typeof bystander>).stop();
        expect(report.messages).toBeGreaterThan(0);
        expect(report.closed).toBeNull();
        expect(report.gaps, `gaps over 100 ms (max ${report.maxGapMs} ms)`).toEqual([]);
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      });
    });
  }
});
