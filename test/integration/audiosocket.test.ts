import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { encodeAudioSocketFrame } from '../../src/ingest/audiosocket.js';
import type { RunningServer } from '../../src/main.js';
import { expectLevelNear } from '../helpers/audio-assertions.js';
import { type AudioSocketTestServer, startAudioSocketTestServer } from '../helpers/audiosocket-server.js';
import { startBystander } from '../helpers/bystander.js';
import { loadPlatformSession } from '../helpers/platform-session.js';
import { LISTENER_MODES } from '../helpers/server.js';
import { requestTo } from '../helpers/server-process.js';
import { maxLevelExcludingDb, toneLevelDb } from '../helpers/spectrum.js';
import { openListener } from '../helpers/ws-clients.js';

/**
 * SPEC §4.6, Asterisk AudioSocket: a TCP port of its own (EARSHOT_AUDIOSOCKET_LISTEN), off unless
 * set, its calls in the organization of EARSHOT_AUDIOSOCKET_INGEST_KEY. The fixture session
 * (test/fixtures/platforms/audiosocket/) is written to a real TCP socket in real time — once as
 * Asterisk writes it, once cut into 7-byte pieces — and the call appears under its UUID with its
 * tone heard; a garbage frame or a connection that never sends its UUID is closed, and nothing else
 * notices.
 */
const UUID = '40325ec2-5efd-4bd3-805f-53576e581d13';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}
const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once('close', () => resolve()));

/** Writes the session's 20 ms slots on time (deadline-paced), each cut into `piece`-byte writes. */
async function replay(socket: Socket, batches: readonly (string | Uint8Array)[][], piece = Infinity) {
  const start = performance.now();
  for (let i = 0; i < batches.length; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    for (const message of batches[i]) {
      const bytes = Buffer.from(message as Uint8Array);
      for (let at = 0; at < bytes.length; at += piece) socket.write(bytes.subarray(at, at + piece));
    }
  }
}

describe.each(LISTENER_MODES.slice(0, 2))('%s: Asterisk AudioSocket', (_mode, modeEnv) => {
  let target: AudioSocketTestServer;
  let server: RunningServer;
  let apiKey: string;
  let port: number;
  const api = (path: string, method = 'GET') =>
    fetch(`${server.url}${path}`, { method, headers: { authorization: apiKey } }).then(async (r) => ({
      status: r.status,
      // biome-ignore lint/suspicious/noExplicitAny: tests read envelopes loosely
      body: (await r.json()) as any,
    }));

  beforeAll(async () => {
    // As an operator does: an organization and an ingest key first, then the server configured with it.
    target = await startAudioSocketTestServer(modeEnv);
    ({ server, apiKey, port } = target);
  });
  afterAll(() => target?.close());

  it.each([
    ['as Asterisk writes it', Infinity],
    ['cut into 7-byte pieces', 7],
  ])(
    'the session %s: the call appears under its UUID, its tone is heard, the close ends the participant',
    async (_how, piece) => {
      const session = loadPlatformSession('audiosocket', { token: '', callId: null });
      const socket = await tcp(port);
      const sending = replay(socket, session.batches, piece);
      let call = await api(`/v1/calls/${UUID}`);
      for (let i = 0; call.status === 404 && i < 100; i++) {
        await sleep(20);
        call = await api(`/v1/calls/${UUID}`);
      }
      expect(call.status).toBe(200);
      expect(call.body.data.metadata).toEqual({ source: 'audiosocket' });
      const listen = await api(`/v1/calls/${UUID}/listen`, 'POST');
      const listener = await openListener(listen.body.data.url);
      await sending;
      const during = await api(`/v1/calls/${UUID}`);
      const participants = during.body.data.participants;
      expect(participants).toEqual([
        expect.objectContaining({ name: 'caller', platform: 'audiosocket', connected: true }),
      ]);
      socket.end();
      await closed(socket);
      await sleep(200);
      const after = await api(`/v1/calls/${UUID}`);
      expect(after.body.data.participants[0].connected).toBe(false);
      listener.ws.close();
      let best = { tone: -Infinity, others: Infinity };
      for (let i = 0; i + 25 <= listener.binary.length; i += 5) {
        const window = listener.samples(i, i + 25);
        const tone = toneLevelDb(window, 16000, 600);
        if (tone > best.tone) best = { tone, others: maxLevelExcludingDb(window, 16000, [600]) };
      }
      if (participants[0].frames_late + participants[0].frames_lost > 0) {
        expect(best.tone).toBeGreaterThan(-20);
        return;
      }
      expectLevelNear(best.tone, -12);
      expect(best.others).toBeLessThan(-40);
    },
  );

  it('a garbage frame closes that connection only, counted; one that never sends its UUID is closed after 5 s', async () => {
    const errors = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const m =
        /^earshot_ingest_platform_errors_total\{platform="audiosocket",code="INVALID_PAYLOAD"\} (\d+)$/m.exec(
          text,
        );
      return m ? Number(m[1]) : 0;
    };
    const before = await errors();
    const bad = await tcp(port);
    const badClosed = closed(bad);
    bad.write(
      Buffer.concat([encodeAudioSocketFrame(0x01, Buffer.alloc(16, 7)), Buffer.from([0x42, 0, 1, 0])]),
    );
    await badClosed;
    expect(await errors()).toBe(before + 1);
    const silent = await tcp(port);
    const t0 = performance.now();
    await closed(silent);
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(4000);
    expect(waited).toBeLessThan(8000);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 20_000);
});

describe('AudioSocket: hostile connections', () => {
  let target: AudioSocketTestServer;

  beforeAll(async () => {
    target = await startAudioSocketTestServer();
  });
  afterAll(() => target?.close());

  it('every kind of bad input closes its own connection; a bystander call hears no gap over 100 ms', async () => {
    const { server, apiKey, port } = target;
    const bystander = await startBystander({ url: server.url, request: requestTo(server.url) }, apiKey);
    const uuid = (n: number) => encodeAudioSocketFrame(0x01, Buffer.alloc(16, n));
    const slin20ms = encodeAudioSocketFrame(0x10, Buffer.alloc(320));
    const hostile: Buffer[] = [
      // Unknown kinds, before and after the UUID.
      ...[0x04, 0x0f, 0x19, 0x42, 0x80, 0xfe].map((kind) => Buffer.from([kind, 0, 1, 0])),
      ...[0x04, 0x20, 0xfe].map((kind, i) => Buffer.concat([uuid(i + 1), Buffer.from([kind, 0, 0])])),
      // Audio before the UUID; a UUID of 15 bytes; a second UUID; an odd slin byte count.
      slin20ms,
      Buffer.from([0x01, 0, 15, ...Buffer.alloc(15, 9)]),
      Buffer.concat([uuid(20), uuid(21)]),
      Buffer.concat([uuid(22), encodeAudioSocketFrame(0x10, Buffer.alloc(3))]),
      // Lengths over a kind's bound: a hang-up with a payload of 64 KiB − 1, audio over 1 s.
      Buffer.concat([uuid(23), Buffer.from([0x00, 0xff, 0xff])]),
      Buffer.concat([uuid(24), Buffer.from([0x10, 0xff, 0xff]), Buffer.alloc(65_535)]),
      // slin96 (beyond 48 kHz), and plain garbage: an HTTP request, random bytes.
      Buffer.concat([uuid(25), encodeAudioSocketFrame(0x17, Buffer.alloc(3840))]),
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff)),
    ];
    const before = await (await fetch(`${server.url}/metrics`)).text();
    const sockets = await Promise.all(hostile.map(() => tcp(port)));
    const ends = sockets.map(closed);
    sockets.forEach((socket, i) => {
      socket.on('error', () => {});
      socket.write(hostile[i]);
    });
    await Promise.all(ends);
    // Connections that stop mid-frame or send half a UUID: closed at once by their end, or after 5 s.
    const halves = await Promise.all([0, 1, 2].map(() => tcp(port)));
    halves[0].end(Buffer.from([0x01, 0, 16, 1, 2, 3]));
    halves[1].end(Buffer.concat([uuid(30), Buffer.from([0x10, 1])]));
    halves[2].destroy();
    await Promise.all(halves.map(closed));
    const report = await bystander.stop();
    expect(report.closed).toBeNull();
    expect(report.maxGapMs, `gaps: ${report.gaps.join(', ')}`).toBeLessThan(100);
    const after = await (await fetch(`${server.url}/metrics`)).text();
    const refused = (text: string) =>
      [
        ...text.matchAll(
          /^earshot_ingest_platform_errors_total\{platform="audiosocket",code="[A-Z_]+"\} (\d+)$/gm,
        ),
      ]
        .map((m) => Number(m[1]))
        .reduce((a, b) => a + b, 0);
    // Every hostile connection was refused and counted (the ones cut mid-frame just ended).
    expect(refused(after) - refused(before)).toBeGreaterThanOrEqual(hostile.length);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    await bystander.call.stop();
  }, 20_000);
});

describe('AudioSocket configuration', () => {
  it('is off by default, and needs both its address and an ingest key', () => {
    expect(loadConfig({}, {}).audiosocket).toBeNull();
    expect(() => loadConfig({}, { EARSHOT_AUDIOSOCKET_LISTEN: '127.0.0.1:9092' })).toThrow(
      /EARSHOT_AUDIOSOCKET_INGEST_KEY/,
    );
    expect(() => loadConfig({}, { EARSHOT_AUDIOSOCKET_INGEST_KEY: 'eik_x' })).toThrow(
      /EARSHOT_AUDIOSOCKET_LISTEN/,
    );
    expect(() =>
      loadConfig(
        {},
        { EARSHOT_AUDIOSOCKET_LISTEN: '127.0.0.1:9092', EARSHOT_AUDIOSOCKET_INGEST_KEY: 'esk_x' },
      ),
    ).toThrow(/must be an ingest key/);
    expect(
      loadConfig({}, { EARSHOT_AUDIOSOCKET_LISTEN: '10.0.0.5:9092', EARSHOT_AUDIOSOCKET_INGEST_KEY: 'eik_x' })
        .audiosocket,
    ).toEqual({ listen: { host: '10.0.0.5', port: 9092 }, ingestKey: 'eik_x' });
  });
});
