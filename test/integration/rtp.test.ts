import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestTwoToneWindow, expectLevelNear } from '../helpers/audio-assertions.js';
import { startBystander } from '../helpers/bystander.js';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall } from '../helpers/live-call.js';
import {
  ffmpegRtp,
  hasFfmpeg,
  rtpPacket,
  sendSlots,
  tonePayloads,
  udpSource,
} from '../helpers/rtp-sender.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import { maxLevelExcludingDb, toneLevelDb } from '../helpers/spectrum.js';
import {
  closedWith,
  openListener,
  openSocket,
  type TestListener,
  toneChunks,
} from '../helpers/ws-clients.js';

/**
 * SPEC §4.6, RTP ports: `POST /v1/calls/{id}/rtp` hands out a UDP port of the node for one
 * participant; the first source of valid RTP is latched, its packets decoded in order of their
 * sequence numbers (reordered, duplicated and lost packets through the track buffer), everything
 * else dropped and counted; the port is released when the call ends or goes quiet.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withFfmpeg = hasFfmpeg();

/** The loudest 0.5 s window's level of `toneHz`, and of everything else in that window. */
function loudestWindow(listener: TestListener, toneHz: number): { tone: number; others: number } {
  let best = { tone: -Infinity, others: Infinity };
  for (let i = 0; i + 25 <= listener.binary.length; i += 5) {
    const window = listener.samples(i, i + 25);
    const tone = toneLevelDb(window, 16000, toneHz);
    if (tone > best.tone) best = { tone, others: maxLevelExcludingDb(window, 16000, [toneHz]) };
  }
  return best;
}

async function metricsText(ts: TestServer): Promise<string> {
  return (await ts.request('/metrics')).text();
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const datagrams = (text: string, outcome: string) =>
  metricValue(text, `earshot_rtp_datagrams_total{outcome="${outcome}"}`);

// Each mode's server gets its own port range: the test files run in parallel.
const MODES = LISTENER_MODES.slice(0, 2).map(([mode, env], i) => [mode, env, 41_000 + 100 * i] as const);

describe.each(MODES)('%s: RTP ports', (_mode, modeEnv, firstPort) => {
  let ts: TestServer;
  let apiKey: string;
  const allocate = (callId: string, body: unknown) =>
    jsonRequest(ts, 'POST', `/v1/calls/${callId}/rtp`, { apiKey, body });

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, {
      ...modeEnv,
      EARSHOT_RTP_PORTS: `${firstPort}-${firstPort + 99}`,
      EARSHOT_LOG_LEVEL: 'warn',
    });
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
  });
  afterAll(() => ts?.close());

  it.runIf(withFfmpeg).each([
    ['ulaw', 'pcm_mulaw', 8000, '20 ms', 160, 'mulaw'],
    ['alaw', 'pcm_alaw', 8000, '20 ms', 160, 'alaw'],
    ['slin', 'pcm_s16be', 8000, '20 ms', 160, 'pcm16be'],
    ['slin16', 'pcm_s16be', 16000, "ffmpeg's own", undefined, 'pcm16be'],
  ] as const)(
    'ffmpeg sends %s (%s at %i Hz, %s packets): heard at its level, found by its call id',
    async (format, codec, rateHz, _packets, samplesPerPacket, encoding) => {
      const call = await createLiveCall(ts, apiKey, `rtp-${format}-${Date.now().toString(36)}`);
      const port = await allocate(call.id, { participant: 'caller', format });
      expect(port.status, port.text).toBe(200);
      expect(port.body.data).toEqual({
        call_id: call.id,
        host: '127.0.0.1',
        port: expect.any(Number),
        format,
        participant: 'caller',
      });
      const { port: udpPort } = port.body.data;
      expect(udpPort % 2).toBe(0);
      expect(udpPort).toBeGreaterThanOrEqual(firstPort);
      expect(udpPort).toBeLessThanOrEqual(firstPort + 99);
      const listener = await openListener(await call.listenUrl());
      await ffmpegRtp(udpPort, { codec, rateHz, toneHz: 600, seconds: 2, samplesPerPacket });
      const view = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
      expect(view.body.data.participants).toEqual([
        expect.objectContaining({
          name: 'caller',
          platform: 'rtp',
          encoding,
          sample_rate: rateHz,
          connected: true,
        }),
      ]);
      await sleep(200);
      listener.ws.close();
      const heard = loudestWindow(listener, 600);
      // lavfi's sine is 1/8 of full scale.
      expectLevelNear(heard.tone, -18);
      expect(heard.others).toBeLessThan(-40);
      await call.stop();
    },
  );

  it.runIf(withFfmpeg)(
    'two ports, two ffmpeg senders: caller in μ-law and agent in 16 kHz L16, mixed',
    async () => {
      const call = await createLiveCall(ts, apiKey);
      const caller = (await allocate(call.id, { participant: 'caller', format: 'ulaw' })).body.data.port;
      const agent = (await allocate(call.id, { participant: 'agent', format: 'slin16' })).body.data.port;
      const listener = await openListener(await call.listenUrl());
      await Promise.all([
        ffmpegRtp(caller, {
          codec: 'pcm_mulaw',
          rateHz: 8000,
          toneHz: 600,
          seconds: 2,
          samplesPerPacket: 160,
        }),
        ffmpegRtp(agent, {
          codec: 'pcm_s16be',
          rateHz: 16000,
          toneHz: 1500,
          seconds: 2,
          samplesPerPacket: 320,
        }),
      ]);
      const view = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
      expect(view.body.data.participants.map((p: { name: string }) => p.name).sort()).toEqual([
        'agent',
        'caller',
      ]);
      listener.ws.close();
      const best = bestTwoToneWindow(listener, 16000, [600, 1500]);
      expectLevelNear(best.tone1, -18);
      expectLevelNear(best.tone2, -18);
      expect(best.others).toBeLessThan(-40);
      await call.stop();
    },
  );

  it('packets reordered, duplicated and lost, and a second source: the latched stream is heard in order, the rest dropped and counted', async () => {
    const call = await createLiveCall(ts, apiKey);
    const { port } = (await allocate(call.id, { participant: 'caller', format: 'ulaw' })).body.data;
    const listener = await openListener(await call.listenUrl());
    const before = await metricsText(ts);
    const good = await udpSource();
    const intruder = await udpSource();
    const { payloads, payloadType } = tonePayloads('ulaw', 600, 3);
    const other = tonePayloads('ulaw', 1500, 3).payloads;
    const seq0 = 65_500; // wraps during the call
    const packet = (k: number) =>
      rtpPacket({
        payloadType,
        seq: seq0 + k,
        timestamp: 4_294_960_000 + 160 * k,
        ssrc: 0xc0ffee,
        payload: payloads[k],
      });
    const slots: (() => void)[] = [];
    let reordered = 0;
    let duplicated = 0;
    let lost = 0;
    for (let k = 0; k < payloads.length; k++) {
      const sends: Buffer[] = [];
      if (k % 10 === 4 && k + 1 < payloads.length) {
        // k + 1 first, then k, in the same 20 ms: the order a network may deliver them in.
        sends.push(packet(k + 1), packet(k));
        reordered++;
      } else if (k % 10 === 5) {
        // sent with k - 1
      } else if (k % 25 === 12) lost++;
      else sends.push(packet(k));
      if (k % 7 === 3) {
        sends.push(packet(k));
        duplicated++;
      }
      const intruding = k > 0 && k % 3 === 0;
      slots.push(() => {
        for (const datagram of sends) good.sendTo(port, datagram);
        if (intruding)
          intruder.sendTo(
            port,
            rtpPacket({ payloadType, seq: k, timestamp: 160 * k, ssrc: 7, payload: other[k] }),
          );
      });
    }
    await sendSlots(slots);
    await sleep(300);
    const after = await metricsText(ts);
    const view = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    listener.ws.close();
    good.close();
    intruder.close();
    const grew = (outcome: string) => datagrams(after, outcome) - datagrams(before, outcome);
    expect(grew('other_source')).toBe(Math.floor((payloads.length - 1) / 3));
    // A duplicate of a lost packet is that packet's only copy.
    expect(grew('duplicate')).toBeGreaterThanOrEqual(duplicated - 1);
    expect(grew('late')).toBe(reordered);
    const heard = loudestWindow(listener, 600);
    expectLevelNear(heard.tone, -12);
    // Nothing of the second source (1500 Hz) reaches the mix.
    let intruderLevel = -Infinity;
    for (let i = 0; i + 25 <= listener.binary.length; i += 5)
      intruderLevel = Math.max(intruderLevel, toneLevelDb(listener.samples(i, i + 25), 16000, 1500));
    expect(intruderLevel).toBeLessThan(-50);
    const [caller] = view.body.data.participants;
    // Reordered packets took their slots. Had they been dropped, frames_lost would be at least
    // lost + reordered (21) plus the slots after the last packet, which count as lost until the
    // track idles (RTP has no end of stream: ~6). Measured: 11 alone, 14 with Chromium tests beside.
    expect(caller.frames_lost).toBeGreaterThanOrEqual(lost - 1);
    expect(caller.frames_lost).toBeLessThan(lost + reordered);
    await call.stop();
  });

  it('a header with CSRCs, an extension and padding is read past; what is not audio never latches the port', async () => {
    const call = await createLiveCall(ts, apiKey);
    const { port } = (await allocate(call.id, { participant: 'caller', format: 'slin16' })).body.data;
    const listener = await openListener(await call.listenUrl());
    const scanner = await udpSource();
    const sender = await udpSource();
    // A scanner's junk first: none of it is RTP audio in slin16, so none of it latches.
    for (const junk of [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      Buffer.alloc(11, 0x80),
      rtpPacket({ payloadType: 0, seq: 1, timestamp: 0, ssrc: 1, payload: Buffer.alloc(160, 0xff) }),
      Buffer.from([0x81, 0xc8, 0, 6, ...Buffer.alloc(24)]),
    ])
      scanner.sendTo(port, junk);
    await sleep(50);
    const { payloads } = tonePayloads('slin16', 1000, 2);
    await sendSlots(
      payloads.map(
        (payload, k) => () =>
          sender.sendTo(
            port,
            rtpPacket({
              payloadType: 118,
              seq: k,
              timestamp: 320 * k,
              ssrc: 42,
              payload,
              csrcs: 2,
              extensionWords: 1,
              padding: 4,
            }),
          ),
      ),
    );
    await sleep(200);
    listener.ws.close();
    scanner.close();
    sender.close();
    const heard = loudestWindow(listener, 1000);
    expectLevelNear(heard.tone, -12);
    expect(heard.others).toBeLessThan(-40);
    await call.stop();
  });

  it('hostile datagrams on a port leave another call without a gap over 100 ms, and the port keeps its source', async () => {
    const bystander = await startBystander(ts, apiKey);
    const call = await createLiveCall(ts, apiKey);
    const { port } = (await allocate(call.id, { participant: 'caller', format: 'ulaw' })).body.data;
    const sender = await udpSource();
    const attacker = await udpSource();
    const { payloads } = tonePayloads('ulaw', 600, 1);
    sender.sendTo(port, rtpPacket({ payloadType: 0, seq: 0, timestamp: 0, ssrc: 5, payload: payloads[0] }));
    await sleep(50);
    const hostile: Buffer[] = [
      Buffer.alloc(0),
      Buffer.alloc(65_507, 0x80),
      Buffer.from([0x40, 0, 0, 0]),
      rtpPacket({ payloadType: 8, seq: 1, timestamp: 160, ssrc: 5, payload: payloads[1] }),
      rtpPacket({ payloadType: 0, seq: 1, timestamp: 160, ssrc: 5, payload: Buffer.alloc(9000) }),
      Buffer.from([0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]),
      Buffer.from([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0xff, 0xff]),
      Buffer.from([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0]),
    ];
    for (let i = 0; i < 2000; i++) {
      const junk =
        i < hostile.length
          ? hostile[i]
          : Buffer.from(Array.from({ length: 1 + (i % 300) }, (_, k) => (i * 31 + k * 7) & 0xff));
      // From the attacker, and spoofing nothing: the latched source's own garbage too.
      (i % 2 ? attacker : sender).sendTo(port, junk);
      if (i % 200 === 0) await sleep(5);
    }
    await sleep(300);
    // The latched source still streams, and is heard.
    const listener = await openListener(await call.listenUrl());
    await sendSlots(
      payloads
        .slice(1)
        .map(
          (payload, k) => () =>
            sender.sendTo(
              port,
              rtpPacket({ payloadType: 0, seq: k + 1, timestamp: 160 * (k + 1), ssrc: 5, payload }),
            ),
        ),
    );
    await sleep(200);
    listener.ws.close();
    sender.close();
    attacker.close();
    const report = await bystander.stop();
    expect(report.closed).toBeNull();
    expect(report.maxGapMs, `gaps: ${report.gaps.join(', ')}`).toBeLessThan(100);
    expectLevelNear(loudestWindow(listener, 600).tone, -12, 3);
    const text = await metricsText(ts);
    expect(datagrams(text, 'invalid')).toBeGreaterThan(0);
    expect(datagrams(text, 'refused')).toBeGreaterThan(0);
    await call.stop();
    await bystander.call.stop();
  });

  it('a participant moves between a WebSocket and an RTP port and back: listed once, each newer connection taking over', async () => {
    const call = await createLiveCall(ts, apiKey);
    const listener = await openListener(await call.listenUrl());
    const ws = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
    const wsClosed = closedWith(ws);
    const chunks = toneChunks(500, 16000, 2, 'pcm16');
    let i = 0;
    const feed = setInterval(() => {
      if (ws.readyState === ws.OPEN) ws.send(chunks[i++ % chunks.length]);
    }, 20);
    await sleep(300);
    const { port } = (await allocate(call.id, { participant: 'caller', format: 'ulaw' })).body.data;
    // Allocating the port takes nothing over: its first packet does.
    expect(ws.readyState).toBe(ws.OPEN);
    const sender = await udpSource();
    const { payloads } = tonePayloads('ulaw', 1500, 1);
    const sending = sendSlots(
      payloads.map(
        (payload, k) => () =>
          sender.sendTo(port, rtpPacket({ payloadType: 0, seq: k, timestamp: 160 * k, ssrc: 9, payload })),
      ),
    );
    expect(await wsClosed).toEqual({ code: 4002, reason: 'replaced' });
    clearInterval(feed);
    await sending;
    const during = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    expect(during.body.data.participants).toEqual([
      expect.objectContaining({ name: 'caller', platform: 'rtp', connected: true }),
    ]);
    const portsBefore = metricValue(await metricsText(ts), 'earshot_rtp_ports');
    // Back to a WebSocket: the port is released.
    const again = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
    again.send(chunks[0]);
    await sleep(200);
    expect(metricValue(await metricsText(ts), 'earshot_rtp_ports')).toBe(portsBefore - 1);
    const after = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    expect(after.body.data.participants).toEqual([
      expect.objectContaining({ name: 'caller', platform: 'generic', connected: true }),
    ]);
    again.close();
    sender.close();
    listener.ws.close();
    // Both sources were heard, in turn.
    expect(loudestWindow(listener, 500).tone).toBeGreaterThan(-20);
    expect(loudestWindow(listener, 1500).tone).toBeGreaterThan(-15);
    await call.stop();
  });

  it('the call ending releases its ports', async () => {
    const call = await createLiveCall(ts, apiKey);
    const before = metricValue(await metricsText(ts), 'earshot_rtp_ports');
    await allocate(call.id, { participant: 'caller', format: 'ulaw' });
    await allocate(call.id, { participant: 'agent', format: 'alaw' });
    expect(metricValue(await metricsText(ts), 'earshot_rtp_ports')).toBe(before + 2);
    await call.stop();
    await sleep(100);
    expect(metricValue(await metricsText(ts), 'earshot_rtp_ports')).toBe(before);
  });

  it('refuses what it cannot serve, with the envelope', async () => {
    const call = await createLiveCall(ts, apiKey);
    const cases: [unknown, number, string][] = [
      [{ participant: 'caller', format: 'g722' }, 400, 'VALIDATION_ERROR'],
      [{ participant: 'bad name!', format: 'ulaw' }, 400, 'VALIDATION_ERROR'],
      [{ participant: 'caller' }, 400, 'VALIDATION_ERROR'],
      [{ participant: 'caller', format: 'ulaw', extra: 1 }, 400, 'VALIDATION_ERROR'],
    ];
    for (const [body, status, code] of cases) {
      const r = await allocate(call.id, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.errors[0].code).toBe(code);
    }
    const missing = await allocate('no-such-call', { format: 'ulaw' });
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0].code).toBe('CALL_NOT_FOUND');
    // The participant defaults to caller.
    const defaulted = await allocate(call.id, { format: 'ulaw' });
    expect(defaulted.body.data.participant).toBe('caller');
    await call.stop();
    const ended = await allocate(call.id, { format: 'ulaw' });
    expect(ended.status).toBe(409);
    expect(ended.body.errors[0].code).toBe('INVALID_CALL_STATUS');
    const noKey = await jsonRequest(ts, 'POST', `/v1/calls/${call.id}/rtp`, { body: { format: 'ulaw' } });
    expect(noKey.status).toBe(401);
    const ingestKey = (await jsonRequest(ts, 'POST', '/v1/ingest-keys', { apiKey, body: {} })).body.data
      .ingest_key;
    const withIngestKey = await jsonRequest(ts, 'POST', `/v1/calls/${call.id}/rtp`, {
      apiKey: ingestKey,
      body: { format: 'ulaw' },
    });
    expect(withIngestKey.status).toBe(401);
  });
});

describe('RTP ports: off, exhausted, idle', () => {
  it('are off unless EARSHOT_RTP_PORTS is set: 404 with the reason', async () => {
    const ts = await startTestServer(sqliteBackend, { EARSHOT_LOG_LEVEL: 'warn' });
    try {
      const { apiKey } = await ts.createOrg();
      const call = await createLiveCall(ts, apiKey);
      const r = await jsonRequest(ts, 'POST', `/v1/calls/${call.id}/rtp`, {
        apiKey,
        body: { format: 'ulaw' },
      });
      expect(r.status).toBe(404);
      expect(r.body.errors[0].message).toMatch(/EARSHOT_RTP_PORTS/);
    } finally {
      await ts.close();
    }
  });

  it('skip a port another program holds', async () => {
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(41402, '127.0.0.1', resolve));
    const ts = await startTestServer(sqliteBackend, {
      EARSHOT_LOG_LEVEL: 'warn',
      EARSHOT_RTP_PORTS: '41402-41404',
    });
    try {
      const { apiKey } = await ts.createOrg();
      const call = await createLiveCall(ts, apiKey);
      const allocate = () =>
        jsonRequest(ts, 'POST', `/v1/calls/${call.id}/rtp`, { apiKey, body: { format: 'ulaw' } });
      expect((await allocate()).body.data.port).toBe(41404);
      expect((await allocate()).status).toBe(503);
    } finally {
      await ts.close();
      squatter.close();
    }
  });

  it('hand out the even ports round-robin, answer 503 when all are taken, and release one after the idle timeout', async () => {
    const ts = await startTestServer(sqliteBackend, {
      EARSHOT_LOG_LEVEL: 'warn',
      EARSHOT_RTP_PORTS: '41301-41305',
      EARSHOT_RTP_IDLE_TIMEOUT_S: '1',
    });
    try {
      const { apiKey } = await ts.createOrg();
      const call = await createLiveCall(ts, apiKey);
      const allocate = (participant: string) =>
        jsonRequest(ts, 'POST', `/v1/calls/${call.id}/rtp`, {
          apiKey,
          body: { participant, format: 'ulaw' },
        });
      const a = await allocate('a');
      const b = await allocate('b');
      expect([a.body.data.port, b.body.data.port]).toEqual([41302, 41304]);
      const full = await allocate('c');
      expect(full.status).toBe(503);
      expect(full.body.errors[0].code).toBe('SERVICE_UNAVAILABLE');
      // b streams (and stays); a never sends: released after 1 s, with nothing heard.
      const sender = await udpSource();
      const { payloads } = tonePayloads('ulaw', 600, 2);
      await sendSlots(
        payloads.map(
          (payload, k) => () =>
            sender.sendTo(41304, rtpPacket({ payloadType: 0, seq: k, timestamp: 160 * k, ssrc: 3, payload })),
        ),
      );
      const c = await allocate('c');
      expect(c.status, c.text).toBe(200);
      expect(c.body.data.port).toBe(41302);
      // b went quiet when the sender stopped: it ends after 1 s, and is listed as disconnected.
      await sleep(1600);
      const view = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
      expect(view.body.data.participants).toEqual([
        expect.objectContaining({ name: 'b', platform: 'rtp', connected: false }),
      ]);
      sender.close();
    } finally {
      await ts.close();
    }
  });
});
