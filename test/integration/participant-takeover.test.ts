import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { sqliteBackend } from '../helpers/databases.js';
import { createLiveCall, type LiveCall } from '../helpers/live-call.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import {
  closedWith,
  openListener,
  openSocket,
  type TestListener,
  toneChunks,
} from '../helpers/ws-clients.js';

/**
 * SPEC §4.1: a participant name that is already connected on the call is taken over by the newer
 * connection. The older one is closed with 4002 "replaced" and its audio stops at once; listeners
 * never hear a `left` for a participant that is still there, and the call lists it once.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FREQ_OLD = 500;
const FREQ_NEW = 1000;
const FREQ_BYSTANDER = 700;

/** Sends `chunks` every 20 ms, round and round, until the socket stops being open. */
function streamUntilClosed(ws: WebSocket, chunks: readonly (Buffer | string)[]): Promise<number> {
  return new Promise((resolve) => {
    let i = 0;
    const start = performance.now();
    const next = () => {
      if (ws.readyState !== ws.OPEN) return resolve(i);
      ws.send(chunks[i % chunks.length]);
      i++;
      setTimeout(next, Math.max(0, start + i * 20 - performance.now()));
    };
    next();
  });
}

const participantEvents = (l: TestListener) =>
  (l.text as { type: string; name: string; state: string }[])
    .filter((e) => e.type === 'participant')
    .map((e) => `${e.name}:${e.state}`);

/** Indices of the listener messages (20 ms each) in which `freq` is clearly present. */
const messagesWith = (l: TestListener, freq: number, from = 0) =>
  l.binary.map((_, i) => i).filter((i) => i >= from && toneLevelDb(l.samples(i, i + 1), 16000, freq) > -30);

async function participantsOf(ts: TestServer, apiKey: string, call: LiveCall) {
  const r = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
  return r.body.data.participants as { name: string; connected: boolean }[];
}

function twilioStart(callId: string, token: string, streamSid: string, tracks = ['inbound']): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    start: {
      accountSid: 'AC0',
      streamSid,
      callSid: 'CA0',
      tracks,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      customParameters: { call_id: callId, token },
    },
    streamSid,
  });
}

function twilioMedia(streamSid: string, chunks: Buffer[]): string[] {
  return chunks.map((payload, i) =>
    JSON.stringify({
      event: 'media',
      sequenceNumber: String(i + 2),
      media: {
        track: 'inbound',
        chunk: String(i + 1),
        timestamp: String(i * 20),
        payload: payload.toString('base64'),
      },
      streamSid,
    }),
  );
}

describe.each(LISTENER_MODES)('%s: participant takeover', (_mode, modeEnv) => {
  let ts: TestServer;
  let apiKey: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, modeEnv);
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
  });
  afterAll(() => ts?.close());

  it('generic ingest: the newer connection takes the participant over; the older gets 4002 "replaced", no `left`, a bystander call is untouched', async () => {
    const call = await createLiveCall(ts, apiKey);
    const bystanderCall = await createLiveCall(ts, apiKey);
    const listener = await openListener(await call.listenUrl('events=1'));
    const bystander = await openListener(await bystanderCall.listenUrl('events=1'));
    const params = 'participant=caller&encoding=pcm16&sample_rate=16000';

    const bystanderIngest = await openSocket(bystanderCall.ingestUrl(params));
    const bystanderSending = streamUntilClosed(
      bystanderIngest,
      toneChunks(FREQ_BYSTANDER, 16000, 1, 'pcm16'),
    );
    const old = await openSocket(call.ingestUrl(params));
    const oldClosed = closedWith(old);
    const oldSending = streamUntilClosed(old, toneChunks(FREQ_OLD, 16000, 1, 'pcm16'));
    await sleep(800);
    expect(messagesWith(listener, FREQ_OLD).length).toBeGreaterThan(10);

    const takeoverAt = listener.binary.length;
    const newer = await openSocket(call.ingestUrl(params));
    const newerSending = streamUntilClosed(newer, toneChunks(FREQ_NEW, 16000, 1, 'pcm16'));
    expect(await oldClosed).toEqual({ code: 4002, reason: 'replaced' });
    await oldSending;
    await sleep(1000);

    // Listed once, connected, while the newer connection carries it.
    expect(await participantsOf(ts, apiKey, call)).toMatchObject([{ name: 'caller', connected: true }]);
    expect(participantEvents(listener)).toEqual(['caller:joined', 'caller:joined']);

    // After the takeover the listener hears the new tone, and the old one stops at once: nothing of
    // it later than ~3 messages (what was already mixed or in flight) after the new connection opened.
    const heardNew = messagesWith(listener, FREQ_NEW, takeoverAt);
    expect(heardNew.length).toBeGreaterThan(30);
    const oldAfter = messagesWith(listener, FREQ_OLD, takeoverAt);
    expect(oldAfter.every((i) => i < heardNew[0])).toBe(true);
    const tail = listener.samples(listener.binary.length - 25, listener.binary.length);
    expect(toneLevelDb(tail, 16000, FREQ_NEW)).toBeGreaterThan(-15);
    // Nothing of the older connection (its tone) is mixed in any more. (Measured at its frequency,
    // not as "everything but the new tone": a test process short of CPU may pace the new tone
    // late, and the concealment of a late frame is broadband — but it is not the old source.)
    expect(toneLevelDb(tail, 16000, FREQ_OLD)).toBeLessThan(-40);

    // The newer connection leaves for real: now `left` is announced, and the call lists it disconnected.
    newer.send(JSON.stringify({ event: 'stop' }));
    expect(await closedWith(newer)).toMatchObject({ code: 1000 });
    await newerSending;
    await sleep(200);
    expect(participantEvents(listener)).toEqual(['caller:joined', 'caller:joined', 'caller:left']);
    expect(await participantsOf(ts, apiKey, call)).toMatchObject([{ name: 'caller', connected: false }]);

    // The bystander call: its ingest still open, its tone continuous, no event but its own join.
    expect(bystanderIngest.readyState).toBe(bystanderIngest.OPEN);
    expect(participantEvents(bystander)).toEqual(['caller:joined']);
    const bystanderTail = bystander.samples(bystander.binary.length - 50, bystander.binary.length);
    expect(toneLevelDb(bystanderTail, 16000, FREQ_BYSTANDER)).toBeGreaterThan(-15);
    // Neither source of the other call reached it (measured at their frequencies, as above).
    expect(toneLevelDb(bystanderTail, 16000, FREQ_OLD)).toBeLessThan(-40);
    expect(toneLevelDb(bystanderTail, 16000, FREQ_NEW)).toBeLessThan(-40);
    bystanderIngest.close();
    await bystanderSending;
    listener.ws.close();
    bystander.ws.close();
  }, 30_000);

  it('a stereo connection loses only the participant taken over: the other one leaves as it closes', async () => {
    const call = await createLiveCall(ts, apiKey);
    const listener = await openListener(await call.listenUrl('events=1'));
    const pair = await openSocket(
      call.ingestUrl('participant=caller,agent&channels=2&encoding=pcm16&sample_rate=16000'),
    );
    const pairClosed = closedWith(pair);
    await sleep(200);
    const single = await openSocket(call.ingestUrl('participant=caller&encoding=pcm16&sample_rate=16000'));
    expect(await pairClosed).toEqual({ code: 4002, reason: 'replaced' });
    await sleep(200);
    expect(participantEvents(listener)).toEqual([
      'caller:joined',
      'agent:joined',
      'caller:joined',
      'agent:left',
    ]);
    const listed = await participantsOf(ts, apiKey, call);
    expect(listed.map((p) => `${p.name}:${p.connected}`).sort()).toEqual(['agent:false', 'caller:true']);
    single.close();
    listener.ws.close();
  });

  it('Twilio: a second stream for the same call and track takes it over; the first gets 4002 "replaced"', async () => {
    const call = await createLiveCall(ts, apiKey);
    const listener = await openListener(await call.listenUrl('events=1'));
    const twilioUrl = `${ts.url.replace(/^http/, 'ws')}/ws/twilio`;

    const first = await openSocket(twilioUrl);
    const firstClosed = closedWith(first);
    first.send(twilioStart(call.id, call.ingestToken, 'MZ1'));
    const firstSending = streamUntilClosed(first, twilioMedia('MZ1', toneChunks(FREQ_OLD, 8000, 1, 'mulaw')));
    await sleep(600);
    const takeoverAt = listener.binary.length;
    const second = await openSocket(twilioUrl);
    second.send(twilioStart(call.id, call.ingestToken, 'MZ2'));
    const secondSending = streamUntilClosed(
      second,
      twilioMedia('MZ2', toneChunks(FREQ_NEW, 8000, 1, 'mulaw')),
    );
    expect(await firstClosed).toEqual({ code: 4002, reason: 'replaced' });
    await firstSending;
    await sleep(800);
    expect(participantEvents(listener)).toEqual(['caller:joined', 'caller:joined']);
    expect(await participantsOf(ts, apiKey, call)).toMatchObject([{ name: 'caller', connected: true }]);
    const heardNew = messagesWith(listener, FREQ_NEW, takeoverAt);
    expect(heardNew.length).toBeGreaterThan(20);
    expect(messagesWith(listener, FREQ_OLD, takeoverAt).every((i) => i < heardNew[0])).toBe(true);
    second.close();
    await secondSending;
    listener.ws.close();
  }, 20_000);
});
