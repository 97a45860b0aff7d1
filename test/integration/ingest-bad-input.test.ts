import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLevelNear } from '../helpers/audio-assertions.js';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall } from '../helpers/live-call.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import { maxLevelExcludingDb, toneLevelDb } from '../helpers/spectrum.js';
import {
  closedWith,
  openListener,
  openSocket,
  pcm16Bytes,
  sendPaced,
  type TestListener,
} from '../helpers/ws-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SPEC §4.3: bad input gets a clear close, is counted, and touches no other call or connection. */
describe('bad ingest input', () => {
  let ts: TestServer;
  let apiKey: string;
  let ws: string;
  // A healthy call running beside every bad one: it must not notice anything.
  let bystander: TestListener;
  let bystanderSender: Promise<void>;

  const newCall = () => createLiveCall(ts, apiKey);

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend);
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
    ws = ts.url.replace(/^http/, 'ws');
    const call = await newCall();
    bystander = await openListener(await call.listenUrl());
    const sender = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
    const tone = sine({ freqHz: 700, sampleRateHz: 16000, length: 320 * 200, amplitudeDbfs: -12 });
    bystanderSender = sendPaced(
      sender,
      Array.from({ length: 200 }, (_, i) => pcm16Bytes(tone.subarray(i * 320, (i + 1) * 320))),
      20,
      (c) => c,
    );
  });
  afterAll(() => ts?.close());

  const generic: [string, string, (s: import('ws').WebSocket) => void, number][] = [
    [
      'an odd byte count of PCM16',
      'encoding=pcm16&sample_rate=16000',
      (s) => s.send(Buffer.alloc(641)),
      1007,
    ],
    [
      'a stereo message that is not whole sample frames',
      'encoding=pcm16&channels=2&participant=a,b',
      (s) => s.send(Buffer.alloc(642)),
      1007,
    ],
    ['a text message that is not JSON', 'encoding=mulaw&sample_rate=8000', (s) => s.send('{not json'), 1007],
    [
      'more than one second of audio in one message',
      'encoding=mulaw&sample_rate=8000',
      (s) => s.send(Buffer.alloc(9000)),
      1009,
    ],
    [
      'a message over the socket size limit',
      'encoding=pcm16&sample_rate=48000',
      (s) => s.send(Buffer.alloc(400_000)),
      1009,
    ],
  ];
  for (const [what, query, send, code] of generic) {
    it(`closes generic ingest on ${what} with ${code}`, async () => {
      const call = await newCall();
      const listener = await openListener(await call.listenUrl());
      const sock = await openSocket(call.ingestUrl(query));
      const closed = closedWith(sock);
      send(sock);
      const c = await closed;
      expect(c.code).toBe(code);
      // The socket-level size limit is enforced by ws itself, which closes without a reason.
      if (!what.includes('socket size limit')) expect(c.reason.length).toBeGreaterThan(0);
      await sleep(60);
      // The call's own listener keeps streaming clean silence: nothing malformed reached it.
      expect(listener.binary.every((m) => m.length === 640 && m.every((b) => b === 0))).toBe(true);
      expect(listener.ws.readyState).toBe(listener.ws.OPEN);
      listener.ws.close();
    });
  }

  const twilio: [
    string,
    (call: { id: string; ingestToken: string }) => (string | Buffer)[],
    number,
    RegExp,
  ][] = [
    ['a binary message', () => [Buffer.from([1, 2, 3])], 1003, /.+/],
    [
      'media before start',
      () => [
        JSON.stringify({
          event: 'media',
          media: { track: 'inbound', chunk: '1', timestamp: '0', payload: '/w==' },
        }),
      ],
      1007,
      /start/i,
    ],
    ['malformed JSON', () => ['{"event":'], 1007, /.+/],
    [
      'bad base64 in media',
      (c) => [
        startMessage(c.id, c.ingestToken),
        JSON.stringify({
          event: 'media',
          media: { track: 'inbound', chunk: '1', timestamp: '0', payload: '!!!notbase64' },
        }),
      ],
      1007,
      /base64/i,
    ],
    ['a wrong token in start', (c) => [startMessage(c.id, 'wrong-token')], 1008, /token/i],
    ['a start naming another call', (c) => [startMessage('some-other-call', c.ingestToken)], 1008, /.+/],
  ];
  for (const [what, messages, code, reason] of twilio) {
    it(`closes a Twilio stream on ${what} with ${code}`, async () => {
      const call = await newCall();
      const sock = await openSocket(`${ws}/ws/twilio`);
      const closed = closedWith(sock);
      for (const m of messages(call)) sock.send(m);
      const c = await closed;
      expect(c.code).toBe(code);
      expect(c.reason).toMatch(reason);
    });
  }

  it('counts every refusal in /metrics by error code', async () => {
    const metrics = await (await ts.request('/metrics')).text();
    for (const code of ['INVALID_PAYLOAD', 'MESSAGE_TOO_BIG', 'UNSUPPORTED_DATA', 'UNAUTHORIZED']) {
      expect(metrics).toMatch(new RegExp(`earshot_ingest_errors_total\\{code="${code}"\\} [1-9]`));
    }
  });

  it('left the bystander call untouched throughout', async () => {
    await bystanderSender;
    await sleep(100);
    expect(bystander.ws.readyState).toBe(bystander.ws.OPEN);
    expect(bystander.binary.every((m) => m.length === 640)).toBe(true);
    const samples = bystander.samples();
    const loud = samples.subarray(samples.length - 16000 * 2, samples.length - 16000);
    expectLevelNear(toneLevelDb(loud, 16000, 700), -12);
    expect(maxLevelExcludingDb(loud, 16000, [700])).toBeLessThan(-40);
    bystander.ws.close();
  });
});

function startMessage(callId: string, token: string): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: 'AC0',
      streamSid: 'MZ0',
      callSid: 'CA0',
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { call_id: callId, token },
    },
    streamSid: 'MZ0',
  });
}
