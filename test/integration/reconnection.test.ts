import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { encodeAudioSocketFrame } from '../../src/ingest/audiosocket.js';
import type { RunningServer } from '../../src/main.js';
import { type AudioSocketTestServer, startAudioSocketTestServer } from '../helpers/audiosocket-server.js';
import { rtpPacket, tonePayloads, udpSource } from '../helpers/rtp-sender.js';
import { jsonRequest } from '../helpers/server.js';
import { requestTo } from '../helpers/server-process.js';
import { sine } from '../helpers/signals.js';
import { rmsDbfs, toneLevelDb } from '../helpers/spectrum.js';
import { openListener, pcm16Bytes } from '../helpers/ws-clients.js';

/**
 * SPEC §4.1 and §4.6: a participant whose connection drops and comes back — on the same transport
 * or another — continues as the same participant: listed once in `GET /v1/calls/{id}`, connected
 * again, and its listeners hear silence no longer than the outage. One call, its caller moving
 * through a generic WebSocket, Asterisk WebSocket media, AudioSocket (whose UUID names the call)
 * and an RTP port, with 200 ms of nothing between each.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** AudioSocket names the call by its UUID: so the call has one. */
const CALL = '5b1c7e2a-3d4f-4a6b-8c9d-0e1f2a3b4c5d';
const OUTAGE_MS = 200;
const TONE_HZ = 600;
const SEND_S = 1;

/** 20 ms of the tone at `rate`, −12 dBFS, as little-endian PCM16 messages. */
function pcmChunks(rate: number): Buffer[] {
  const per = rate / 50;
  const tone = sine({ freqHz: TONE_HZ, sampleRateHz: rate, length: rate * SEND_S, amplitudeDbfs: -12 });
  const chunks: Buffer[] = [];
  for (let i = 0; i + per <= tone.length; i += per) chunks.push(pcm16Bytes(tone.subarray(i, i + per)));
  return chunks;
}

async function paced(send: (i: number) => void, count: number): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await sleep(wait);
    send(i);
  }
}

async function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}

async function closeWs(ws: WebSocket): Promise<void> {
  const done = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await done;
}

describe('a participant reconnecting across transports', () => {
  let target: AudioSocketTestServer;
  let server: RunningServer;
  let apiKey: string;
  let ingestKey: string;
  let audiosocketPort: number;

  beforeAll(async () => {
    target = await startAudioSocketTestServer({ EARSHOT_RTP_PORTS: '41700-41749' });
    ({ server, apiKey, ingestKey, port: audiosocketPort } = target);
  });
  afterAll(() => target?.close());

  it('generic → Asterisk WebSocket → AudioSocket → RTP → generic: one participant throughout, silence no longer than each outage', async () => {
    const ts = { url: server.url, request: requestTo(server.url) };
    const ws = server.url.replace(/^http/, 'ws');
    const seen: { platform: string; participants: unknown[] }[] = [];
    const check = async (platform: string) => {
      const view = await jsonRequest(ts, 'GET', `/v1/calls/${CALL}`, { apiKey });
      seen.push({ platform, participants: view.body.data.participants });
    };
    const pcm16k = pcmChunks(16000);

    // 1. Generic ingest, with the ingest key: the call appears.
    const generic = await openWs(`${ws}/ws/ingest/${CALL}?token=${ingestKey}&participant=caller`);
    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${CALL}/listen`, { apiKey });
    expect(listen.status, listen.text).toBe(200);
    const listener = await openListener(listen.body.data.url);
    await paced((i) => generic.send(pcm16k[i]), pcm16k.length);
    await check('generic');
    await closeWs(generic);
    await sleep(OUTAGE_MS);

    // 2. Asterisk WebSocket media, slin16.
    const asterisk = await openWs(`${ws}/ws/asterisk?token=${ingestKey}&call_id=${CALL}&participant=caller`);
    asterisk.send(
      'MEDIA_START connection_id:c-1 channel:WebSocket/earshot-1 channel_id:pbx-1 format:slin16 optimal_frame_size:640 ptime:20',
    );
    await paced((i) => asterisk.send(pcm16k[i]), pcm16k.length);
    await check('asterisk');
    await closeWs(asterisk);
    await sleep(OUTAGE_MS);

    // 3. AudioSocket: the UUID frame, then slin 8 kHz.
    const tcp: Socket = await new Promise((resolve, reject) => {
      const socket = connect(audiosocketPort, '127.0.0.1', () => resolve(socket));
      socket.once('error', reject);
    });
    tcp.write(encodeAudioSocketFrame(0x01, Buffer.from(CALL.replaceAll('-', ''), 'hex')));
    const pcm8k = pcmChunks(8000);
    await paced((i) => tcp.write(encodeAudioSocketFrame(0x10, pcm8k[i])), pcm8k.length);
    await check('audiosocket');
    await new Promise<void>((resolve) => tcp.end(resolve));
    await sleep(OUTAGE_MS);

    // 4. An RTP port (asked for with the API key), μ-law.
    const port = await jsonRequest(ts, 'POST', `/v1/calls/${CALL}/rtp`, { apiKey, body: { format: 'ulaw' } });
    expect(port.status, port.text).toBe(200);
    const rtp = await udpSource();
    const { payloads } = tonePayloads('ulaw', TONE_HZ, SEND_S);
    await paced(
      (k) =>
        rtp.sendTo(
          port.body.data.port,
          rtpPacket({ payloadType: 0, seq: k, timestamp: 160 * k, ssrc: 1, payload: payloads[k] }),
        ),
      payloads.length,
    );
    await check('rtp');
    // RTP has no end: the next connection takes the participant over (the port is released).
    rtp.close();
    await sleep(OUTAGE_MS);

    // 5. Back to generic ingest.
    const again = await openWs(`${ws}/ws/ingest/${CALL}?token=${ingestKey}&participant=caller`);
    await paced((i) => again.send(pcm16k[i]), pcm16k.length);
    await check('generic');
    await closeWs(again);
    await sleep(200);
    listener.ws.close();

    for (const { platform, participants } of seen)
      expect(participants, platform).toEqual([
        expect.objectContaining({ name: 'caller', platform, connected: true }),
      ]);

    // The tone throughout, but for the outages: the longest silence (after the first sound, before
    // the last) is one outage, give or take the jitter buffer's refill (measured: exactly 200 ms).
    const levels = listener.binary.map((_, i) => rmsDbfs(listener.samples(i, i + 1)));
    const first = levels.findIndex((l) => l > -30);
    const last = levels.length - 1 - [...levels].reverse().findIndex((l) => l > -30);
    let longest = 0;
    let run = 0;
    for (let i = first; i <= last; i++) {
      run = levels[i] > -30 ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    console.log(`longest silence ${longest * 20} ms after outages of ${OUTAGE_MS} ms`);
    expect(longest * 20, 'the longest silence, ms').toBeLessThanOrEqual(OUTAGE_MS + 100);
    // 5 × 1 s of tone, less the jitter buffer's start after each outage.
    const sounding = levels.slice(first, last + 1).filter((l) => l > -30).length;
    expect(sounding).toBeGreaterThan(5 * 45);
    let best = -Infinity;
    for (let i = first; i + 25 <= last; i += 25)
      best = Math.max(best, toneLevelDb(listener.samples(i, i + 25), 16000, TONE_HZ));
    expect(best).toBeGreaterThan(-14);
  }, 30_000);
});
