import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirectWriteBatch } from '../../src/live/direct-write.js';
import { bestTwoToneWindow, expectLevelNear } from '../helpers/audio-assertions.js';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall } from '../helpers/live-call.js';
import { openPacedSender } from '../helpers/paced-sender.js';
import {
  inMediaWorkers,
  jsonRequest,
  LISTENER_MODES,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import { maxLevelExcludingDb, rmsDbfs, toneLevelDb } from '../helpers/spectrum.js';
import {
  openListener,
  openSocket,
  pcm16Bytes,
  sendPaced,
  type TestListener,
  toneChunks,
} from '../helpers/ws-clients.js';

const RATE = 16000;

/** Index of the first message carrying sound (above −50 dBFS RMS). */
function firstSounding(listener: TestListener): number {
  return listener.binary.findIndex((_, i) => rmsDbfs(listener.samples(i, i + 1)) > -50);
}

describe.each(LISTENER_MODES)('%s: live audio through real sockets', (_mode, modeEnv) => {
  let ts: TestServer;
  let apiKey: string;
  let ws: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, modeEnv);
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
    ws = ts.url.replace(/^http/, 'ws');
  });
  afterAll(() => ts?.close());

  const newCall = (callId?: string) => createLiveCall(ts, apiKey, callId);

  it('mixes 440 Hz μ-law 8 kHz and 1 kHz PCM16 48 kHz into 640-byte messages that three listeners receive identically', async () => {
    const call = await newCall();
    const url = await call.listenUrl();
    const listeners = await Promise.all([1, 2, 3].map(() => openListener(url)));
    const caller = await openSocket(call.ingestUrl('participant=caller&encoding=mulaw&sample_rate=8000'));
    const agent = await openSocket(call.ingestUrl('participant=agent&encoding=pcm16&sample_rate=48000'));
    await Promise.all([
      sendPaced(caller, toneChunks(440, 8000, 2, 'mulaw'), 20, (c) => c),
      sendPaced(agent, toneChunks(1000, 48000, 2, 'pcm16'), 20, (c) => c),
    ]);
    await call.stop();
    const closes = await Promise.all(listeners.map((l) => l.closed));
    for (const c of closes) expect(c).toEqual({ code: 1000, reason: 'call ended' });

    for (const l of listeners) {
      expect(l.binary.length).toBeGreaterThan(90);
      expect(l.binary.every((m) => m.length === 640)).toBe(true);
      expect(l.text).toEqual([]);
    }
    const [a] = listeners;
    expect(firstSounding(a)).toBeGreaterThanOrEqual(0);
    // The 0.5 s where both participants spoke: on a loaded machine one stream may start a few
    // hundred ms after the other, and a window fixed from the first sound would catch that.
    const best = bestTwoToneWindow(a, RATE, [440, 1000]);
    expectLevelNear(best.tone1, -12);
    expectLevelNear(best.tone2, -12);
    expect(best.others).toBeLessThan(-40);
    // Every listener of one URL gets the same bytes (compare the common tail).
    const n = Math.min(...listeners.map((l) => l.binary.length)) - 5;
    const tail = (l: TestListener) => Buffer.concat(l.binary.slice(l.binary.length - n));
    expect(tail(listeners[1]).equals(tail(a))).toBe(true);
    expect(tail(listeners[2]).equals(tail(a))).toBe(true);
    caller.close();
    agent.close();
  });

  it('writes listener messages through the native addon unless told not to', async () => {
    const metrics = await (await fetch(`${ts.url}/metrics`)).text();
    const off = modeEnv.EARSHOT_DIRECT_WRITES === 'off';
    expect(metrics).toMatch(new RegExp(`^earshot_direct_writes ${off ? 0 : 1}$`, 'm'));
    // The server runs in this process: count the messages its batch takes on the way to a real
    // socket (media workers write in their own processes, so this one hands none to the addon).
    const added = vi.spyOn(DirectWriteBatch.prototype, 'add');
    try {
      const call = await newCall();
      const listener = await openListener(await call.listenUrl());
      const caller = await openSocket(call.ingestUrl('participant=caller&encoding=mulaw&sample_rate=8000'));
      await sendPaced(caller, toneChunks(440, 8000, 0.6, 'mulaw'), 20, (c) => c);
      caller.close();
      listener.ws.close();
      expect(listener.binary.length).toBeGreaterThan(20);
      const direct = off || inMediaWorkers(modeEnv) ? 0 : listener.binary.length;
      // Nearly every message: one that found bytes queued on the socket goes behind them instead.
      expect(added.mock.calls.length).toBeGreaterThanOrEqual(Math.floor(direct * 0.9));
      expect(added.mock.calls.length).toBeLessThanOrEqual(direct + 5);
    } finally {
      added.mockRestore();
    }
  });

  // The replay is paced from a worker thread, so the server's work in this thread does not make it
  // late. A stall of this whole process still can: the clock's catch-up ticks run before the socket
  // is read, so frames that waited in it are late and dropped (the product's rule for late audio),
  // which lowers a track's level and adds clicks. The server counts those frames (frames_late,
  // frames_lost, read while the session still flows, since a participant that stops sending is
  // charged the slots its buffer then finds empty): where it counted none, levels and purity are
  // checked strictly; where it did, the run says so and only checks that both tracks are heard.
  it('replays a recorded Twilio Media Streams session with both tracks; its stop ends the call', async ({
    annotate,
  }) => {
    const call = await newCall('CA810bad11af2855a52a2d2cf14e48e1f6');
    const listener = await openListener(await call.listenUrl());
    const lines = readFileSync(new URL('../fixtures/twilio/session.jsonl', import.meta.url), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.replace('{{call_id}}', call.id).replace('{{token}}', call.ingestToken));
    const twilio = await openPacedSender(`${ws}/ws/twilio`);
    // Twilio sends both tracks' 20 ms messages together: pace by media timestamp.
    const batches: string[][] = [];
    let last = '';
    for (const line of lines) {
      const ts = /"timestamp":"(\d+)"/.exec(line)?.[1] ?? last;
      if (ts !== last || batches.length === 0) batches.push([]);
      batches.at(-1)!.push(line);
      last = ts;
    }
    const sending = twilio.send(batches, 20);
    // What the server heard of both tracks until 10 batches (200 ms) before the end.
    await twilio.sent(batches.length - 10);
    const during = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    const heard = during.body.data.participants as {
      name: string;
      frames_late: number;
      frames_lost: number;
      buffer_ms: number;
    }[];
    await sending;
    const start = firstSounding(listener);
    expect(start).toBeGreaterThanOrEqual(0);
    const closed = await listener.closed;
    expect(closed).toEqual({ code: 1000, reason: 'call ended' });
    await twilio.close();
    const after = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    expect(after.body.data.status).toBe('completed');
    expect(heard).toHaveLength(2);
    // While it flows, each participant's jitter buffer adds one to six frames (its capacity).
    for (const p of heard) {
      expect(p.buffer_ms % 20, JSON.stringify(p)).toBe(0);
      expect(p.buffer_ms, JSON.stringify(p)).toBeGreaterThanOrEqual(20);
      expect(p.buffer_ms, JSON.stringify(p)).toBeLessThanOrEqual(120);
    }
    // Both tracks heard together at their levels (a frame the loaded test machine delivered late
    // would otherwise count as a quieter track), and nothing else.
    const best = bestTwoToneWindow(listener, RATE, [600, 1500]);
    const context = `messages ${listener.binary.length}, participants ${JSON.stringify(heard)}`;
    if (heard.some((p) => p.frames_late + p.frames_lost > 0)) {
      await annotate(
        `the server got frames late or lost them (this process stalled; ${JSON.stringify(heard)}): levels and purity are not checked`,
        'warning',
      );
      expect(best.tone1, `600 Hz; ${context}`).toBeGreaterThan(-20);
      expect(best.tone2, `1500 Hz; ${context}`).toBeGreaterThan(-20);
      return;
    }
    expectLevelNear(best.tone1, -12, undefined, `600 Hz; ${context}`);
    expectLevelNear(best.tone2, -12, undefined, `1500 Hz; ${context}`);
    expect(best.others).toBeLessThan(-40);
  });
  it('takes A-law at 24 kHz and two participants interleaved on one stereo PCM socket', async () => {
    const call = await newCall();
    const listener = await openListener(await call.listenUrl());
    const alaw = await openSocket(call.ingestUrl('participant=bot&encoding=alaw&sample_rate=24000'));
    const stereo = await openSocket(
      call.ingestUrl('participant=left,right&channels=2&encoding=pcm16&sample_rate=32000'),
    );
    const l = sine({ freqHz: 300, sampleRateHz: 32000, length: 32000 * 2, amplitudeDbfs: -14 });
    const r = sine({ freqHz: 2500, sampleRateHz: 32000, length: 32000 * 2, amplitudeDbfs: -14 });
    const interleaved: Buffer[] = [];
    for (let i = 0; i < l.length; i += 640) {
      const chunk = new Int16Array(1280);
      for (let j = 0; j < 640; j++) {
        chunk[2 * j] = l[i + j];
        chunk[2 * j + 1] = r[i + j];
      }
      interleaved.push(pcm16Bytes(chunk));
    }
    await Promise.all([
      sendPaced(alaw, toneChunks(1200, 24000, 2, 'alaw'), 20, (c) => c),
      sendPaced(stereo, interleaved, 20, (c) => c),
    ]);
    const view = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    expect(view.body.data.participants.map((p: { name: string }) => p.name).sort()).toEqual([
      'bot',
      'left',
      'right',
    ]);
    await call.stop();
    await listener.closed;
    const start = firstSounding(listener);
    const window = listener.samples(start + 15, start + 65);
    expectLevelNear(toneLevelDb(window, RATE, 1200), -12);
    expectLevelNear(toneLevelDb(window, RATE, 300), -14);
    expectLevelNear(toneLevelDb(window, RATE, 2500), -14);
    expect(maxLevelExcludingDb(window, RATE, [300, 1200, 2500])).toBeLessThan(-40);
  });
});
