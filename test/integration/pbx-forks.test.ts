import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { bestTwoToneWindow, expectLevelNear } from '../helpers/audio-assertions.js';
import { startBystander } from '../helpers/bystander.js';
import { sqliteBackend } from '../helpers/databases.js';
import { openPacedSender } from '../helpers/paced-sender.js';
import { jsonRequest, LISTENER_MODES, startTestServer, type TestServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import { toneLevelDb } from '../helpers/spectrum.js';
import { expectUpgradeRefused, openListener, pcm16Bytes } from '../helpers/ws-clients.js';

/**
 * SPEC §4.6: FreeSWITCH's mod_audio_fork (subprotocol `audio.drachtio.org`) and jambonz's listen
 * (`audio.jambonz.org`) connect to the generic endpoint as they are — their subprotocol agreed,
 * their first metadata text accepted, HTTP Basic credentials (password = an ingest key), stereo as
 * caller left and agent right, permessage-deflate negotiated on ingest sockets and never on
 * listener sockets.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 20 ms messages of interleaved stereo PCM16 LE: `left` Hz on the left, `right` Hz on the right. */
function stereoFrames(rateHz: number, seconds: number, left: number, right: number): Uint8Array[][] {
  const n = rateHz * seconds;
  const l = sine({ freqHz: left, sampleRateHz: rateHz, length: n, amplitudeDbfs: -12 });
  const r = sine({ freqHz: right, sampleRateHz: rateHz, length: n, amplitudeDbfs: -12 });
  const per = rateHz / 50;
  const batches: Uint8Array[][] = [];
  for (let i = 0; i + per <= n; i += per) {
    const frame = new Int16Array(2 * per);
    for (let k = 0; k < per; k++) {
      frame[2 * k] = l[i + k];
      frame[2 * k + 1] = r[i + k];
    }
    batches.push([pcm16Bytes(frame)]);
  }
  return batches;
}

describe.each(LISTENER_MODES.slice(0, 2))('%s: PBX media forks on the generic endpoint', (_mode, modeEnv) => {
  let ts: TestServer;
  let ws: string;
  let apiKey: string;
  let ingestKey: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend, modeEnv);
    ws = ts.url.replace(/^http/, 'ws');
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
    ingestKey = (await jsonRequest(ts, 'POST', '/v1/ingest-keys', { apiKey, body: { name: 'pbx' } })).body
      .data.ingest_key;
  });
  afterAll(() => ts?.close());

  it('mod_audio_fork: its subprotocol, metadata and Basic credentials; stereo heard as caller and agent; deflate on ingest only', async () => {
    const uuid = `fs-${Date.now().toString(36)}`;
    const basic = `Basic ${Buffer.from(`freeswitch:${ingestKey}`).toString('base64')}`;
    const fork = await openPacedSender(
      `${ws}/ws/ingest/${uuid}?sample_rate=16000&channels=2`,
      { authorization: basic },
      ['audio.drachtio.org'],
    );
    // What the server agreed to: the module's subprotocol, and compression (ws offers it).
    expect(fork.negotiated.protocol).toBe('audio.drachtio.org');
    expect(fork.negotiated.extensions).toContain('permessage-deflate');
    const call = await jsonRequest(ts, 'GET', `/v1/calls/${uuid}`, { apiKey });
    expect(call.status, call.text).toBe(200);
    expect(call.body.data.metadata).toEqual({ source: 'generic' });
    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${uuid}/listen`, { apiKey });
    const listener = await openListener(listen.body.data.url);
    // A listener never gets compression, though the client offered it.
    expect(listener.ws.extensions).toBe('');
    const frames = stereoFrames(16000, 2, 600, 1500);
    // mod_audio_fork's first text: the free-form metadata given to uuid_audio_fork.
    await fork.send([['{"callId":"fs-1","agent":"4711"}'], ...frames], 20);
    await sleep(200);
    const view = await jsonRequest(ts, 'GET', `/v1/calls/${uuid}`, { apiKey });
    expect(view.body.data.participants.map((p: { name: string }) => p.name).sort()).toEqual([
      'agent',
      'caller',
    ]);
    await fork.close();
    listener.ws.close();
    const best = bestTwoToneWindow(listener, 16000, [600, 1500]);
    const heard = view.body.data.participants as { frames_late: number; frames_lost: number }[];
    if (heard.some((p) => p.frames_late + p.frames_lost > 0)) {
      expect(best.tone1).toBeGreaterThan(-20);
      expect(best.tone2).toBeGreaterThan(-20);
      return;
    }
    expectLevelNear(best.tone1, -12);
    expectLevelNear(best.tone2, -12);
    expect(best.others).toBeLessThan(-40);
  });

  it('jambonz listen: its subprotocol and JSON metadata first, mono L16 at 8 kHz, the key as a bearer', async () => {
    const callSid = `jb-${Date.now().toString(36)}`;
    const jambonz = await openPacedSender(
      `${ws}/ws/ingest/${callSid}?sample_rate=8000`,
      { authorization: `Bearer ${ingestKey}` },
      ['audio.jambonz.org'],
    );
    expect(jambonz.negotiated.protocol).toBe('audio.jambonz.org');
    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${callSid}/listen`, { apiKey });
    expect(listen.status, listen.text).toBe(200);
    const listener = await openListener(listen.body.data.url);
    const tone = sine({ freqHz: 600, sampleRateHz: 8000, length: 16000, amplitudeDbfs: -12 });
    const frames: (string | Uint8Array)[][] = [
      [
        JSON.stringify({
          callSid,
          from: '+15551230000',
          to: '+15559870000',
          sampleRate: 8000,
          mixType: 'mono',
        }),
      ],
    ];
    for (let i = 0; i + 160 <= tone.length; i += 160) frames.push([pcm16Bytes(tone.subarray(i, i + 160))]);
    await jambonz.send(frames, 20);
    await sleep(200);
    await jambonz.close();
    listener.ws.close();
    let best = -Infinity;
    for (let i = 0; i + 25 <= listener.binary.length; i += 5)
      best = Math.max(best, toneLevelDb(listener.samples(i, i + 25), 16000, 600));
    expect(best).toBeGreaterThan(-14);
  });

  it("jambonz listen with a bare URL: its metadata's sampleRate 8000 and mixType stereo are what the audio is", async () => {
    const callSid = `jbs-${Date.now().toString(36)}`;
    // The URL says nothing of the format (generic ingest's defaults: mono, 16 kHz): the metadata does.
    const jambonz = await openPacedSender(
      `${ws}/ws/ingest/${callSid}`,
      { authorization: `Basic ${Buffer.from(`jambonz:${ingestKey}`).toString('base64')}` },
      ['audio.jambonz.org'],
    );
    const listen = await jsonRequest(ts, 'POST', `/v1/calls/${callSid}/listen`, { apiKey });
    const listener = await openListener(listen.body.data.url);
    const metadata = JSON.stringify({ callSid, sampleRate: 8000, mixType: 'stereo', direction: 'inbound' });
    await jambonz.send([[metadata], ...stereoFrames(8000, 2, 600, 1500)], 20);
    await sleep(200);
    const view = await jsonRequest(ts, 'GET', `/v1/calls/${callSid}`, { apiKey });
    expect(
      view.body.data.participants
        .map((p: { name: string; sample_rate: number }) => [p.name, p.sample_rate])
        .sort(),
    ).toEqual([
      ['agent', 8000],
      ['caller', 8000],
    ]);
    await jambonz.close();
    listener.ws.close();
    const best = bestTwoToneWindow(listener, 16000, [600, 1500]);
    expect(best.tone1).toBeGreaterThan(-20);
    expect(best.tone2).toBeGreaterThan(-20);
  });

  it('jambonz metadata declaring a rate earshot does not take closes the socket with 1003', async () => {
    const socket = new WebSocket(`${ws}/ws/ingest/jbx-${Date.now()}?token=${ingestKey}`, [
      'audio.jambonz.org',
    ]);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.send(JSON.stringify({ sampleRate: 44100, mixType: 'mono' }));
    const { code, reason } = await closed;
    expect(code).toBe(1003);
    expect(reason).toMatch(/sampleRate/);
  });

  it('hostile forks: bad Basic credentials refused at the upgrade, bad metadata and audio closed; a bystander call hears no gap over 100 ms', async () => {
    const bystander = await startBystander(ts, apiKey);
    const url = (id: string, query = '') => `${ws}/ws/ingest/${id}-${Date.now().toString(36)}${query}`;
    const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
    for (const authorization of [
      'Basic !!!not-base64!!!',
      basic('no-colon-here'),
      basic('freeswitch:eik_wrong'),
      basic(`freeswitch:${ingestKey}x`),
      'Basic ',
    ]) {
      const refused = await expectUpgradeRefused(url('fs-bad'), { authorization });
      expect(refused.status, authorization).toBe(401);
    }
    const opened = async (query: string, protocol: string) => {
      const socket = new WebSocket(url('fork', query), [protocol], {
        headers: { authorization: basic(`x:${ingestKey}`) },
      });
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const ended = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      return { socket, ended };
    };
    const cases: [string, string, (string | Buffer)[], number][] = [
      ['', 'audio.jambonz.org', [JSON.stringify({ sampleRate: 11025 })], 1003],
      ['', 'audio.jambonz.org', [JSON.stringify({ sampleRate: 8000, mixType: 'surround' })], 1003],
      ['?channels=2', 'audio.drachtio.org', ['{"meta":1}', Buffer.alloc(6)], 1007],
      ['', 'audio.jambonz.org', [JSON.stringify({ mixType: 'stereo' }), Buffer.alloc(2)], 1007],
      ['', 'audio.drachtio.org', [Buffer.alloc(3)], 1007],
      ['', 'audio.drachtio.org', ['metadata', 'a second text that is no control message'], 1007],
    ];
    for (const [query, protocol, messages, code] of cases) {
      const { socket, ended } = await opened(query, protocol);
      for (const message of messages) socket.send(message);
      expect(await ended, `${protocol} ${JSON.stringify(messages.map(String))}`).toBe(code);
    }
    const report = await bystander.stop();
    expect(report.closed).toBeNull();
    expect(report.maxGapMs, `gaps: ${report.gaps.join(', ')}`).toBeLessThan(100);
    await bystander.call.stop();
  });

  it('a first text that is not JSON is still malformed without a PBX subprotocol (1007)', async () => {
    const socket = new WebSocket(`${ws}/ws/ingest/plain-${Date.now()}?token=${ingestKey}`);
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send('{not json');
    expect(await closed).toBe(1007);
  });
});
