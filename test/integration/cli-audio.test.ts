import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLevelNear } from '../helpers/audio-assertions.js';
import { runCli } from '../helpers/cli.js';
import { sqliteBackend } from '../helpers/databases.js';
import { jsonRequest, startTestServer, type TestServer } from '../helpers/server.js';
import { sine } from '../helpers/signals.js';
import { rmsDbfs, toneLevelDb } from '../helpers/spectrum.js';
import { openListener } from '../helpers/ws-clients.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hasFfprobe(): boolean {
  if (['/usr/bin/ffprobe', '/usr/local/bin/ffprobe'].some((p) => existsSync(p))) return true;
  if (process.env.CI === 'true') throw new Error('ffprobe (Debian ffmpeg) is required under CI=true');
  console.warn('[skip] ffprobe not installed: the WAV is checked without it');
  return false;
}

/**
 * A 44.1 kHz stereo 16-bit WAV (not a rate ingest takes as it is): a 600 Hz tone, on both channels
 * or, given `rightHz`, on the left with a `rightHz` tone on the right.
 */
function writeToneWav(path: string, seconds: number, rightHz?: number): void {
  const rate = 44100;
  const mono = sine({ freqHz: 600, sampleRateHz: rate, length: rate * seconds, amplitudeDbfs: -10 });
  const right = rightHz
    ? sine({ freqHz: rightHz, sampleRateHz: rate, length: rate * seconds, amplitudeDbfs: -10 })
    : mono;
  const data = Buffer.alloc(mono.length * 4);
  for (let i = 0; i < mono.length; i++) {
    data.writeInt16LE(mono[i], i * 4);
    data.writeInt16LE(right[i], i * 4 + 2);
  }
  writeFileSync(path, wavBytes(rate, 2, data));
}

/** A 16 kHz mono 16-bit WAV of `seconds` of silence. */
function monoWav(seconds: number): Buffer {
  return wavBytes(16000, 1, Buffer.alloc(Math.round(16000 * seconds) * 2));
}

/** A 16-bit PCM WAV file: its 44-byte header, then `data` (interleaved little-endian samples). */
function wavBytes(rate: number, channels: number, data: Buffer): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2 * channels, 28);
  h.writeUInt16LE(2 * channels, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

describe('CLI listen and simulate against a real server', () => {
  let ts: TestServer;
  let apiKey: string;
  let dir: string;

  beforeAll(async () => {
    ts = await startTestServer(sqliteBackend);
    ({ apiKey } = await ts.createOrg({ liveListen: true }));
    dir = mkdtempSync(join(tmpdir(), 'earshot-cli-'));
  });
  afterAll(async () => {
    await ts?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records what `simulate` streams into a WAV of 16 kHz mono s16 as long as the listener was connected', async () => {
    const withFfprobe = hasFfprobe();
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'cli-call' } });
    const wavIn = join(dir, 'tone.wav');
    const wavOut = join(dir, 'out.wav');
    writeToneWav(wavIn, 2);
    const env = { EARSHOT_API_KEY: apiKey };
    const listen = runCli(['listen', 'cli-call', '--out', wavOut, '--url', ts.url], env);
    // Wait until the server counts the listener, then time the recording from there.
    let listeners = 0;
    for (let i = 0; i < 100 && listeners === 0; i++) {
      await sleep(50);
      listeners = (await jsonRequest(ts, 'GET', '/v1/calls/cli-call', { apiKey })).body.data.listeners;
    }
    const t0 = performance.now();
    const simulate = runCli(
      ['simulate', 'cli-call', '--file', wavIn, '--participant', 'bot', '--url', ts.url],
      env,
    );
    expect((await simulate.exited).code).toBe(0);
    expect(simulate.stderr()).toMatch(/streamed 2\.0 s into cli-call as bot/);
    await jsonRequest(ts, 'POST', '/v1/calls/cli-call/stop', { apiKey });
    const elapsedS = (performance.now() - t0) / 1000;
    expect((await listen.exited).code).toBe(0);
    expect(listen.stderr()).toMatch(/cli-call: call ended after/);

    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(wavOut);
    const samples = new Int16Array(
      bytes.buffer.slice(bytes.byteOffset + 44, bytes.byteOffset + bytes.length),
    );
    const durationS = samples.length / 16000;
    expect(Math.abs(durationS - elapsedS)).toBeLessThan(0.2);
    // The tone went through: 44.1 kHz stereo → 16 kHz mono (client) → mix → WAV.
    const loud = samples;
    let first = 0;
    while (first < loud.length - 320 && rmsDbfs(loud.subarray(first, first + 320)) < -40) first += 320;
    expectLevelNear(toneLevelDb(loud.subarray(first + 3200, first + 3200 + 16000), 16000, 600), -10);
    if (withFfprobe) {
      const { stdout } = await promisify(execFile)('ffprobe', [
        '-v',
        'error',
        '-show_entries',
        'stream=sample_rate,channels,sample_fmt:format=duration',
        '-of',
        'json',
        wavOut,
      ]);
      const probe = JSON.parse(stdout);
      expect(probe.streams[0]).toMatchObject({ sample_rate: '16000', channels: 1, sample_fmt: 's16' });
      expect(Math.abs(Number(probe.format.duration) - elapsedS)).toBeLessThan(0.2);
    }
  }, 30_000);

  it('with --participants, streams a stereo file as two participants on one socket, each channel its own', async () => {
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'cli-pair' } });
    const wavIn = join(dir, 'pair.wav');
    writeToneWav(wavIn, 1.5, 1000);
    const env = { EARSHOT_API_KEY: apiKey };
    const listen = await jsonRequest(ts, 'POST', '/v1/calls/cli-pair/listen', { apiKey });
    const listener = await openListener(listen.body.data.url);
    const simulate = runCli(
      ['simulate', 'cli-pair', '--file', wavIn, '--participants', 'caller,agent', '--url', ts.url],
      env,
    );
    // Both participants, from one connection, while it streams.
    await expect
      .poll(
        async () =>
          (await jsonRequest(ts, 'GET', '/v1/calls/cli-pair', { apiKey })).body.data.participants
            .map((p: { name: string }) => p.name)
            .sort(),
        { timeout: 5000, interval: 50 },
      )
      .toEqual(['agent', 'caller']);
    expect((await simulate.exited).code).toBe(0);
    expect(simulate.stderr()).toMatch(/streamed 1\.5 s into cli-pair as caller and agent/);
    const pcm = listener.samples();
    listener.ws.close();
    let first = 0;
    while (first < pcm.length - 320 && rmsDbfs(pcm.subarray(first, first + 320)) < -40) first += 320;
    const middle = pcm.subarray(first + 3200, first + 3200 + 8000);
    // Left (600 Hz) and right (1,000 Hz) each at its own level: neither mixed down (−6 dB each) nor lost.
    expectLevelNear(toneLevelDb(middle, 16000, 600), -10);
    expectLevelNear(toneLevelDb(middle, 16000, 1000), -10);
    await jsonRequest(ts, 'POST', '/v1/calls/cli-pair/stop', { apiKey });

    // A mono file has no pair to give; the names, two different ones, are the server's to check.
    const mono = join(dir, 'mono.wav');
    writeFileSync(mono, monoWav(0.2));
    const refused = runCli(
      ['simulate', 'cli-pair', '--file', mono, '--participants', 'caller,agent', '--url', ts.url],
      env,
    );
    expect((await refused.exited).code).not.toBe(0);
    expect(refused.stderr()).toMatch(/--participants needs a stereo WAV .* has 1 channels/);
    const same = runCli(
      ['simulate', 'cli-pair', '--file', wavIn, '--participants', 'a,a', '--url', ts.url],
      env,
    );
    expect((await same.exited).code).not.toBe(0);
    expect(same.stderr()).toMatch(/ingest refused: .*distinct/);
  }, 30_000);

  it('with --loop, starts the file over until interrupted, then ends its participant cleanly', async () => {
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'cli-loop' } });
    const wavIn = join(dir, 'short.wav');
    writeToneWav(wavIn, 0.5);
    const simulate = runCli(
      ['simulate', 'cli-loop', '--file', wavIn, '--participant', 'looper', '--loop', '--url', ts.url],
      { EARSHOT_API_KEY: apiKey },
    );
    // Still streaming past the end of the file: > 1.2 s of 20 ms frames from a 0.5 s file.
    const framesIn = async () =>
      (await jsonRequest(ts, 'GET', '/v1/calls/cli-loop', { apiKey })).body.data.participants.find(
        (p: { name: string }) => p.name === 'looper',
      )?.frames_in ?? 0;
    await expect.poll(framesIn, { timeout: 10_000, interval: 100 }).toBeGreaterThan(60);
    simulate.child.kill('SIGINT');
    expect((await simulate.exited).code).toBe(0);
    const streamed = Number(/streamed ([\d.]+) s into cli-loop as looper/.exec(simulate.stderr())?.[1]);
    expect(streamed).toBeGreaterThanOrEqual(1.2); // printed to 0.1 s
    // The call outlives a participant that leaves.
    expect((await jsonRequest(ts, 'GET', '/v1/calls/cli-loop', { apiKey })).body.data.status).toBe('active');
  });

  it('finalises a valid WAV when interrupted with Ctrl-C (SIGINT)', async () => {
    await jsonRequest(ts, 'POST', '/v1/calls', { apiKey, body: { call_id: 'cli-ctrl-c' } });
    const wavOut = join(dir, 'interrupted.wav');
    const listen = runCli(['listen', 'cli-ctrl-c', '--out', wavOut, '--url', ts.url], {
      EARSHOT_API_KEY: apiKey,
    });
    let listeners = 0;
    for (let i = 0; i < 100 && listeners === 0; i++) {
      await sleep(50);
      listeners = (await jsonRequest(ts, 'GET', '/v1/calls/cli-ctrl-c', { apiKey })).body.data.listeners;
    }
    await sleep(1000); // ~1 s of audio; the check below asks for half of it
    listen.child.kill('SIGINT');
    expect((await listen.exited).code).toBe(0);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(wavOut);
    // RIFF and data sizes in the header match the file: a player reads it to the end.
    expect(bytes.toString('ascii', 0, 4)).toBe('RIFF');
    expect(bytes.readUInt32LE(4)).toBe(bytes.length - 8);
    expect(bytes.readUInt32LE(40)).toBe(bytes.length - 44);
    expect(bytes.length - 44).toBeGreaterThanOrEqual(16000); // ≥ 0.5 s of audio
    expect((await jsonRequest(ts, 'GET', '/v1/calls/cli-ctrl-c', { apiKey })).body.data.status).toBe(
      'active',
    );
  });

  it('explains API errors in words and exits 1', async () => {
    const wrongKey = runCli(['listen', 'cli-call', '--url', ts.url, '--raw'], {
      EARSHOT_API_KEY: 'esk_wrong',
    });
    expect((await wrongKey.exited).code).toBe(1);
    expect(wrongKey.stderr()).toMatch(/API key was not accepted .*\[UNAUTHORIZED\]/);
    const missing = runCli(['listen', 'nope', '--url', ts.url, '--raw'], { EARSHOT_API_KEY: apiKey });
    expect((await missing.exited).code).toBe(1);
    expect(missing.stderr()).toMatch(/no such call .*\[CALL_NOT_FOUND\]/);
    const noKey = runCli(['listen', 'x', '--url', ts.url], { EARSHOT_API_KEY: '' });
    expect((await noKey.exited).code).toBe(1);
    expect(noKey.stderr()).toMatch(/EARSHOT_API_KEY/);
    const noServer = runCli(['listen', 'x', '--url', 'http://127.0.0.1:1'], { EARSHOT_API_KEY: apiKey });
    expect((await noServer.exited).code).toBe(1);
    expect(noServer.stderr()).toMatch(/cannot reach earshot/);
    const badFile = runCli(['simulate', 'x', '--file', '/etc/hostname', '--url', ts.url], {
      EARSHOT_API_KEY: apiKey,
    });
    expect((await badFile.exited).code).toBe(1);
    expect(badFile.stderr()).toMatch(/cannot read .* as WAV/);
  });
});

describe('npm run demo (earshot serve --demo)', () => {
  it('prints an API key and the console URL, and keeps two two-party calls running with speech', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-demo-'));
    const demo = runCli(['serve', '--demo', '--port', '0', '--log-level', 'warn'], {
      EARSHOT_DATABASE_URL: `sqlite:${join(dir, 'demo.db')}`,
    });
    try {
      const [, apiKey] = await demo.waitFor(/API key:\s+(esk_\S+)/);
      const [, url] = await demo.waitFor(/Console:\s+(http:\/\/127\.0\.0\.1:\d+)\//);
      let calls: { call_id: string; participants: { connected: boolean }[] }[] = [];
      for (
        let i = 0;
        i < 60 && calls.filter((c) => c.participants.filter((p) => p.connected).length === 2).length < 2;
        i++
      ) {
        await sleep(100);
        const r = await fetch(`${url}/v1/calls?status=active`, { headers: { authorization: apiKey } });
        calls = ((await r.json()) as { data: { calls: typeof calls } }).data.calls;
      }
      expect(calls.filter((c) => c.participants.filter((p) => p.connected).length === 2)).toHaveLength(2);
      for (const call of calls) {
        const listen = await fetch(`${url}/v1/calls/${call.call_id}/listen`, {
          method: 'POST',
          headers: { authorization: apiKey },
        });
        const listener = await openListener(((await listen.json()) as { data: { url: string } }).data.url);
        await sleep(2500);
        listener.ws.close();
        // Somebody speaks within 2.5 s (turns are separated by under half a second).
        expect(rmsDbfs(listener.samples())).toBeGreaterThan(-40);
      }
      demo.child.kill('SIGTERM');
      expect((await demo.exited).code).toBe(0);
    } finally {
      demo.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
