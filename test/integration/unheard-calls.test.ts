import { describe, expect, it } from 'vitest';
import { feed } from '../e2e/audio-feed.js';
import { createLiveCall } from '../helpers/live-call.js';
import { jsonRequest, LISTENER_MODES, useLiveServer } from '../helpers/server.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import { openListener, openSocket, toneChunks } from '../helpers/ws-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A call nobody listens to costs only its reading (live/ingest-track.ts: no resampling, framing or
 * publish while the bus says nobody wants its frames) — yet it is counted as ever, and the first
 * listener hears it at once, in step, at its level; another call's listener notices nothing.
 */
describe.each(LISTENER_MODES)('%s: a call nobody listens to', (_mode, modeEnv) => {
  const live = useLiveServer(modeEnv);

  it('counts its frames while unheard, and a listener who comes later hears it at once, at its level', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const caller = await openSocket(call.ingestUrl('participant=caller&encoding=mulaw&sample_rate=8000'));
    const feeding = feed(caller, toneChunks(600, 8000, 3, 'mulaw'));
    await sleep(1000);
    const before = await jsonRequest(ts, 'GET', `/v1/calls/${call.id}`, { apiKey });
    const framesIn = before.body.data.participants.find(
      (p: { name: string }) => p.name === 'caller',
    ).frames_in;
    // About 50 a second, counted though none was made.
    expect(framesIn).toBeGreaterThan(35);
    const metrics = await fetch(`${ts.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/earshot_frames_in_total(\{[^}]*\})? [1-9]/);

    const listener = await openListener(await call.listenUrl());
    await sleep(1000);
    // From its first message on: 50 a second, the tone in the first half-second already.
    expect(listener.binary.length).toBeGreaterThan(40);
    expect(listener.binary.every((m) => m.length === 640)).toBe(true);
    expect(toneLevelDb(listener.samples(5, 30), 16000, 600)).toBeGreaterThan(-14);
    expect(toneLevelDb(listener.samples(5, 30), 16000, 600)).toBeLessThan(-10);
    caller.close();
    await feeding;
    await call.stop();
    await listener.closed;
  });
});
