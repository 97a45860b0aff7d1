import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { WebSocket } from 'ws';
import { writePcm16le } from '../audio/pcm16.js';
import { createResampler } from '../audio/resampler.js';
import { INGEST_SAMPLE_RATES_HZ } from '../domain/audio-format.js';
import { apiKeyFrom, SERVER_URL_HELP, serverUrlFrom } from './api-client.js';
import { CliError } from './cli-error.js';

const CHUNK_MS = 20;

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('Stream a WAV file into a call in real time, as one participant (generic ingest socket)')
    .argument('<call_id>', 'the call to feed')
    .requiredOption('--file <wav>', 'WAV file (any common rate, mono or stereo; stereo is mixed down)')
    .option('--participant <name>', 'participant name', 'caller')
    .option('--loop', 'start over at the end, until interrupted', false)
    .option('--url <url>', SERVER_URL_HELP)
    .option('--api-key <key>', 'API key (default: $EARSHOT_API_KEY)')
    .action(
      async (
        callId: string,
        options: { file: string; participant: string; loop: boolean; url?: string; apiKey?: string },
      ) => {
        const apiKey = apiKeyFrom(options.apiKey);
        // Loaded when the command runs, not when the CLI starts (`earshot --help` stays quick).
        const [{ decodeWav }, { WebSocket }] = await Promise.all([import('../audio/wav.js'), import('ws')]);
        let wav: { sampleRateHz: number; samples: Int16Array };
        try {
          wav = decodeWav(await readFile(options.file));
        } catch (err) {
          throw new CliError(`cannot read ${options.file} as WAV: ${(err as Error).message}`);
        }
        const audio = toIngestRate(wav);
        const base = serverUrlFrom(options.url).replace(/^http/, 'ws').replace(/\/+$/, '');
        const query = new URLSearchParams({
          participant: options.participant,
          encoding: 'pcm16',
          sample_rate: String(audio.sampleRateHz),
        });
        const ws = new WebSocket(`${base}/ws/ingest/${encodeURIComponent(callId)}?${query}`, {
          headers: { authorization: apiKey },
          perMessageDeflate: false,
        });
        await opened(ws);
        const seconds = await stream(ws, audio, options.loop);
        process.stderr.write(
          `earshot: streamed ${seconds.toFixed(1)} s into ${callId} as ${options.participant}\n`,
        );
      },
    );
}

/** Keeps rates the server takes as they are; converts others (e.g. 44.1 kHz) to 16 kHz here. */
function toIngestRate(wav: { sampleRateHz: number; samples: Int16Array }) {
  if ((INGEST_SAMPLE_RATES_HZ as readonly number[]).includes(wav.sampleRateHz)) return wav;
  const resampler = createResampler(wav.sampleRateHz, 16000);
  const out = new Int16Array(resampler.maxOutputLength(wav.samples.length));
  return { sampleRateHz: 16000, samples: out.subarray(0, resampler.process(wav.samples, out)) };
}

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        let message = `HTTP ${res.statusCode}`;
        try {
          const e = JSON.parse(body).errors[0];
          message = `${e.message} [${e.code}]`;
        } catch {}
        reject(new CliError(`ingest refused: ${message}`));
      });
    });
    ws.once('error', (err) => reject(new CliError(`cannot connect: ${err.message}`)));
  });
}

/** Sends 20 ms chunks on deadlines (no drift); resolves with the seconds sent when done or stopped. */
async function stream(
  ws: WebSocket,
  audio: { sampleRateHz: number; samples: Int16Array },
  loop: boolean,
): Promise<number> {
  const perChunk = (audio.sampleRateHz * CHUNK_MS) / 1000;
  const chunk = Buffer.alloc(perChunk * 2);
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  ws.once('close', stop);
  // A socket error ends the stream like a close does (ws closes the socket after it).
  ws.on('error', stop);
  const start = performance.now();
  let sent = 0;
  try {
    for (let offset = 0; !stopped; offset += perChunk) {
      if (offset >= audio.samples.length) {
        if (!loop) break;
        offset = 0;
      }
      const part = audio.samples.subarray(offset, offset + perChunk);
      chunk.fill(0);
      writePcm16le(part, chunk, 0);
      ws.send(chunk);
      sent++;
      const wait = start + sent * CHUNK_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    if (ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ event: 'stop' }));
      ws.close(1000, 'done');
    }
  } finally {
    process.off('SIGINT', stop);
  }
  return (sent * CHUNK_MS) / 1000;
}
