import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  IngestRefusedError,
  ingest,
  type ListenItem,
  ListenRefusedError,
  listen,
} from '../../src/client/index.js';
import { createLiveCall } from '../helpers/live-call.js';
import { jsonRequest, useLiveServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import { startTcpRelay } from '../helpers/tcp-relay.js';

/**
 * `earshot/client` against a real server (SPEC §6): `listen()` yields the call's frames and events
 * until the call ends, reconnects through a URL provider with the outage reported as a gap, never
 * buffers without bound for a slow consumer; `ingest()` pushes a participant's audio in.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function concat(frames: Int16Array[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

describe('earshot/client', () => {
  const live = useLiveServer();

  it('ingest() plays a tone in; listen() yields it as frames with events, and ends with the call', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const listening = listen(await call.listenUrl(), { events: true, sampleRate: 8000, encoding: 'mulaw' });
    const caller = await ingest(call.ingestUrl('x=1'), { sampleRate: 8000, encoding: 'mulaw' });
    const tone = sine({ freqHz: 600, sampleRateHz: 8000, length: 8000, amplitudeDbfs: -12 });
    const playing = caller.play(tone).then(() => caller.end());
    const frames: Int16Array[] = [];
    const events: ListenItem[] = [];
    let stopped = false;
    for await (const item of listening) {
      if (item.type === 'frame') {
        expect(item.sampleRate).toBe(8000);
        expect(item.samples.length).toBe(160);
        frames.push(item.samples);
      } else events.push(item);
      if (frames.length === 75 && !stopped) {
        stopped = true;
        await playing;
        await call.stop();
      }
    }
    expect(await listening.ended).toEqual({ code: 1000, reason: 'call ended' });
    expect(events).toContainEqual({ type: 'participant', name: 'caller', state: 'joined' });
    let best = -Infinity;
    for (let i = 0; i + 25 <= frames.length; i += 5)
      best = Math.max(best, toneLevelDb(concat(frames.slice(i, i + 25)), 8000, 600));
    expect(best).toBeGreaterThan(-15);
  });

  it('ingest() with participants sends a stereo pair on one socket: both are heard, each at its own pitch', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const listening = listen(await call.listenUrl(), { events: true, sampleRate: 8000, encoding: 'mulaw' });
    await expect(
      ingest(call.ingestUrl('x=1'), { participant: 'a', participants: ['a', 'b'] }),
    ).rejects.toThrow(/participant or participants/);
    const pair = await ingest(call.ingestUrl('x=1'), {
      participants: ['caller', 'agent'],
      sampleRate: 8000,
      encoding: 'mulaw',
    });
    await expect(pair.write(new Int16Array(3))).rejects.toThrow(/pairs/);
    const left = sine({ freqHz: 600, sampleRateHz: 8000, length: 8000, amplitudeDbfs: -12 });
    const right = sine({ freqHz: 1000, sampleRateHz: 8000, length: 8000, amplitudeDbfs: -12 });
    const stereo = new Int16Array(16000);
    for (let i = 0; i < 8000; i++) {
      stereo[2 * i] = left[i];
      stereo[2 * i + 1] = right[i];
    }
    const playing = pair.play(stereo).then(() => pair.end());
    const frames: Int16Array[] = [];
    const events: ListenItem[] = [];
    let stopped = false;
    for await (const item of listening) {
      if (item.type === 'frame') frames.push(item.samples);
      else events.push(item);
      if (frames.length === 75 && !stopped) {
        stopped = true;
        await playing;
        await call.stop();
      }
    }
    expect(events).toContainEqual({ type: 'participant', name: 'caller', state: 'joined' });
    expect(events).toContainEqual({ type: 'participant', name: 'agent', state: 'joined' });
    let best = { caller: -Infinity, agent: -Infinity };
    for (let i = 0; i + 25 <= frames.length; i += 5) {
      const window = concat(frames.slice(i, i + 25));
      best = {
        caller: Math.max(best.caller, toneLevelDb(window, 8000, 600)),
        agent: Math.max(best.agent, toneLevelDb(window, 8000, 1000)),
      };
    }
    expect(best.caller).toBeGreaterThan(-15);
    expect(best.agent).toBeGreaterThan(-15);
  });

  it('encoding opus: frames decoded from Opus packets (each packet kept), the tone at pitch and level, a tenth of the bytes', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const listening = listen(await call.listenUrl(), { encoding: 'opus' });
    const caller = await ingest(call.ingestUrl('x=1'), { sampleRate: 16000 });
    const tone = sine({ freqHz: 600, sampleRateHz: 16000, length: 32000, amplitudeDbfs: -12 });
    const playing = caller.play(tone).then(() => caller.end());
    const frames: Int16Array[] = [];
    let packetBytes = 0;
    for await (const item of listening) {
      if (item.type !== 'frame') continue;
      expect(item.samples.length).toBe(320);
      expect(item.packet).toBeInstanceOf(Uint8Array);
      packetBytes += item.packet?.length ?? 0;
      frames.push(item.samples);
      if (frames.length === 75) listening.close();
    }
    await playing;
    // 16 kHz mono PCM16 is 32,000 bytes a second; Opus at 24 kb/s about 3,000.
    const bytesPerSecond = packetBytes / (frames.length * 0.02);
    expect(bytesPerSecond).toBeLessThan(0.15 * 32_000);
    let best = -Infinity;
    for (let i = 0; i + 25 <= frames.length; i += 5)
      best = Math.max(best, toneLevelDb(concat(frames.slice(i, i + 25)), 16000, 600));
    expect(best).toBeGreaterThan(-14);
    expect(best).toBeLessThan(-10);
    await call.stop();
  });

  it('reconnects through the URL provider when its listener is closed, reporting the outage as a gap', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    let minted = 0;
    const listening = listen(
      async () => {
        minted++;
        return call.listenUrl();
      },
      { maxReconnectDelayMs: 300 },
    );
    const items: ListenItem[] = [];
    let revoked = false;
    for await (const item of listening) {
      items.push(item);
      const frames = items.filter((i) => i.type === 'frame').length;
      if (frames === 10 && !revoked) {
        revoked = true;
        // Every listen URL of the call revoked: its listener is closed 4001; the provider mints another.
        await jsonRequest(ts, 'DELETE', `/v1/calls/${call.id}/listen`, { apiKey });
      }
      if (revoked && items.some((i) => i.type === 'gap') && frames >= 30) listening.close();
    }
    expect(minted).toBe(2);
    const reconnecting = items.find((i) => i.type === 'reconnecting');
    expect(reconnecting).toMatchObject({ type: 'reconnecting', attempt: 1, code: 4001 });
    const gap = items.find((i) => i.type === 'gap');
    expect(gap).toMatchObject({ type: 'gap', reason: 'reconnect' });
    expect((gap as { ms: number }).ms).toBeGreaterThan(200);
    expect((gap as { ms: number }).ms).toBeLessThan(3000);
    // Positions run on across the gap: the frame after it starts after the outage.
    const at = items.indexOf(gap as ListenItem);
    const before = items
      .slice(0, at)
      .filter((i) => i.type === 'frame')
      .at(-1) as { positionMs: number };
    const after = items.slice(at).find((i) => i.type === 'frame') as { positionMs: number };
    expect(after.positionMs - before.positionMs).toBeGreaterThanOrEqual(20 + (gap as { ms: number }).ms);
    expect(await listening.ended).toEqual({ code: 1000, reason: 'closed by the client' });
    await call.stop();
  });

  it('reconnects after a network drop (the TCP connection cut, no close frame), with the same URL', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    // A TCP relay in front of the server: cutting its connections is the network failing.
    const relay = await startTcpRelay(ts.url);
    const url = new URL(await call.listenUrl());
    url.host = `127.0.0.1:${relay.port}`;
    const listening = listen(url.toString(), { maxReconnectDelayMs: 300 });
    const items: ListenItem[] = [];
    let cut = false;
    for await (const item of listening) {
      items.push(item);
      const frames = items.filter((i) => i.type === 'frame').length;
      if (frames === 10 && !cut) {
        cut = true;
        relay.cut();
      }
      if (items.some((i) => i.type === 'gap') && frames >= 30) listening.close();
    }
    relay.close();
    expect(items.find((i) => i.type === 'reconnecting')).toMatchObject({ attempt: 1, code: 1006 });
    expect(items.find((i) => i.type === 'gap')).toMatchObject({ reason: 'reconnect' });
    await call.stop();
  });

  it('a consumer that stops reading holds at most maxBufferedMs of audio; what was dropped comes back as one gap', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const listening = listen(await call.listenUrl(), { maxBufferedMs: 400 });
    const first = await listening.next();
    expect(first.value).toMatchObject({ type: 'frame' });
    // Two seconds without reading: 100 frames arrive, 20 are kept.
    await sleep(2000);
    const items: ListenItem[] = [];
    for (let i = 0; i < 30; i++) items.push((await listening.next()).value as ListenItem);
    expect(items[0]).toMatchObject({ type: 'gap', reason: 'slow-consumer' });
    const dropped = (items[0] as { ms: number }).ms;
    expect(dropped).toBeGreaterThan(1200);
    expect(dropped).toBeLessThan(2200);
    // The 20 frames kept follow, then live ones.
    expect(items.slice(1).every((i) => i.type === 'frame')).toBe(true);
    listening.close();
    await call.stop();
  });

  it('is the package export `earshot/client`, with its type declarations', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--input-type=module',
      '-e',
      "const m = await import('earshot/client'); console.log(Object.keys(m).sort().join(','))",
    ]);
    expect(stdout.trim()).toBe('IngestRefusedError,ListenRefusedError,ingest,listen');
    expect(existsSync(new URL('../../dist/client/index.d.ts', import.meta.url))).toBe(true);
  });

  it('ends when the call is over, and fails on refused credentials, with the reason', async () => {
    const { ts, apiKey } = live;
    const call = await createLiveCall(ts, apiKey);
    const url = await call.listenUrl();
    await call.stop();
    const ended = listen(url);
    const items: ListenItem[] = [];
    for await (const item of ended) items.push(item);
    expect(items).toEqual([]);
    expect(await ended.ended).toEqual({ code: 1000, reason: 'call ended' });
    const other = await createLiveCall(ts, apiKey);
    const forged = listen(`${ts.url.replace(/^http/, 'ws')}/ws/listen/${other.id}?token=nope`);
    await expect(forged.next()).rejects.toBeInstanceOf(ListenRefusedError);
    await expect(forged.ended).rejects.toMatchObject({ status: 401 });
    await expect(
      ingest(`${ts.url.replace(/^http/, 'ws')}/ws/ingest/${other.id}?token=nope`),
    ).rejects.toBeInstanceOf(IngestRefusedError);
    await other.stop();
  });
});
