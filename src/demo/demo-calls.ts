import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import { encodeMulaw } from '../audio/g711.js';
import { writePcm16le } from '../audio/pcm16.js';
import { createResampler } from '../audio/resampler.js';
import { loadDialogue } from './dialogue.js';

const TICK_MS = 20;
const SAMPLES_PER_TICK = 320;

interface DemoOptions {
  /** http://host:port of the running server (the demo is a client like any other). */
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly log: Logger;
  /** Call length range in seconds; a new call starts a few seconds after one ends. */
  readonly minCallS?: number;
  readonly maxCallS?: number;
}

/**
 * Keeps two simulated calls running against the server's public API and sockets: one through the
 * Twilio Media Streams protocol (μ-law 8 kHz, both tracks), one through the generic ingest socket
 * (PCM16 16 kHz, caller and agent interleaved on one stereo socket). Each lasts 60–120 s, then ends
 * and a new one starts. Returns a function that stops both.
 */
export function startDemoCalls(options: DemoOptions): () => Promise<void> {
  const dialogue = loadDialogue();
  let stopped = false;
  const loops = (['twilio', 'generic'] as const).map((kind) =>
    (async () => {
      while (!stopped) {
        try {
          await runCall(kind, dialogue, options, () => stopped);
        } catch (err) {
          if (!stopped) options.log.warn({ err, kind }, 'demo call failed; starting another');
        }
        await sleep(stopped ? 0 : 3000);
      }
    })(),
  );
  return async () => {
    stopped = true;
    await Promise.allSettled(loops);
  };
}

async function runCall(
  kind: 'twilio' | 'generic',
  dialogue: { caller: Int16Array; agent: Int16Array },
  options: DemoOptions,
  isStopped: () => boolean,
): Promise<void> {
  const { baseUrl, apiKey } = options;
  const callId =
    kind === 'twilio' ? `CA${randomBytes(16).toString('hex')}` : `demo-${randomBytes(4).toString('hex')}`;
  const created = await api(baseUrl, apiKey, 'POST', '/v1/calls', {
    call_id: callId,
    from: '+15550100',
    to: '+15550199',
    metadata: { demo: kind },
  });
  const ingest = created.ingest as { token: string; url: string; twilio_url: string };
  const minS = options.minCallS ?? 60;
  const maxS = options.maxCallS ?? 120;
  const ticks = Math.round(((minS + Math.random() * (maxS - minS)) * 1000) / TICK_MS);
  const sender = kind === 'twilio' ? await twilioSender(ingest, callId) : await genericSender(ingest);
  options.log.info({ callId, kind }, 'demo call started');
  const start = performance.now();
  const length = dialogue.caller.length;
  for (let tick = 0; tick < ticks && !isStopped() && sender.open(); tick++) {
    const offset = (tick * SAMPLES_PER_TICK) % (length - SAMPLES_PER_TICK);
    sender.send(
      dialogue.caller.subarray(offset, offset + SAMPLES_PER_TICK),
      dialogue.agent.subarray(offset, offset + SAMPLES_PER_TICK),
    );
    const wait = start + (tick + 1) * TICK_MS - performance.now();
    if (wait > 0) await sleep(wait);
  }
  await sender.end();
  // The Twilio stop event completes its call; the generic one is stopped through the API.
  if (kind === 'generic') await api(baseUrl, apiKey, 'POST', `/v1/calls/${callId}/stop`);
  options.log.info({ callId, kind }, 'demo call ended');
}

interface Sender {
  open(): boolean;
  send(caller: Int16Array, agent: Int16Array): void;
  end(): Promise<void>;
}

async function genericSender(ingest: { url: string }): Promise<Sender> {
  const ws = await connect(
    `${ingest.url}&participant=caller,agent&channels=2&encoding=pcm16&sample_rate=16000`,
  );
  const stereo = new Int16Array(SAMPLES_PER_TICK * 2);
  const bytes = Buffer.alloc(stereo.length * 2);
  return {
    open: () => ws.readyState === ws.OPEN,
    send(caller, agent) {
      for (let i = 0; i < SAMPLES_PER_TICK; i++) {
        stereo[2 * i] = caller[i];
        stereo[2 * i + 1] = agent[i];
      }
      writePcm16le(stereo, bytes, 0);
      ws.send(bytes);
    },
    end: () => closeSocket(ws),
  };
}

async function twilioSender(ingest: { token: string; twilio_url: string }, callId: string): Promise<Sender> {
  const ws = await connect(ingest.twilio_url);
  const streamSid = `MZ${randomBytes(16).toString('hex')}`;
  const toNarrowband = { inbound: createResampler(16000, 8000), outbound: createResampler(16000, 8000) };
  const narrow = new Int16Array(SAMPLES_PER_TICK);
  const mulaw = new Uint8Array(SAMPLES_PER_TICK / 2);
  let seq = 1;
  let chunk = 1;
  let timestampMs = 0;
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  ws.send(
    JSON.stringify({
      event: 'start',
      sequenceNumber: String(seq++),
      start: {
        accountSid: `AC${'0'.repeat(32)}`,
        streamSid,
        callSid: callId,
        tracks: ['inbound', 'outbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { call_id: callId, token: ingest.token },
      },
      streamSid,
    }),
  );
  const media = (track: 'inbound' | 'outbound', pcm16k: Int16Array) => {
    const n = toNarrowband[track].process(pcm16k, narrow);
    encodeMulaw(narrow.subarray(0, n), mulaw);
    const payload = Buffer.from(mulaw.buffer, mulaw.byteOffset, n).toString('base64');
    ws.send(
      JSON.stringify({
        event: 'media',
        sequenceNumber: String(seq++),
        media: { track, chunk: String(chunk++), timestamp: String(timestampMs), payload },
        streamSid,
      }),
    );
  };
  return {
    open: () => ws.readyState === ws.OPEN,
    send(caller, agent) {
      media('inbound', caller);
      media('outbound', agent);
      timestampMs += TICK_MS;
    },
    async end() {
      if (ws.readyState === ws.OPEN) {
        ws.send(
          JSON.stringify({
            event: 'stop',
            sequenceNumber: String(seq++),
            stop: { accountSid: `AC${'0'.repeat(32)}`, callSid: callId },
            streamSid,
          }),
        );
      }
      await closeSocket(ws);
    },
  };
}

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    // Before the open: the connection failed. After it, `close` follows and the call ends (open() is false).
    ws.on('error', reject);
  });
}

function closeSocket(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) return resolve();
    ws.once('close', () => resolve());
    if (ws.readyState === ws.OPEN) ws.close(1000, 'demo call over');
    setTimeout(() => {
      ws.terminate();
      resolve();
    }, 2000).unref();
  });
}

async function api(
  baseUrl: string,
  apiKey: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const response = await fetch(new URL(path, baseUrl), {
    method,
    headers:
      body === undefined
        ? { authorization: apiKey }
        : { authorization: apiKey, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as {
    status: string;
    data: Record<string, unknown>;
    errors: { code: string }[] | null;
  };
  if (json.status !== 'success')
    throw new Error(`${method} ${path}: ${json.errors?.[0]?.code ?? response.status}`);
  return json.data;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
