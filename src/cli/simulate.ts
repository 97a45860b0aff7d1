import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createResampler } from '../audio/resampler.js';
import type { Ingesting } from '../client/ingest.js';
import { INGEST_SAMPLE_RATES_HZ, type IngestSampleRateHz } from '../domain/audio-format.js';
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
        const [{ decodeWav }, { ingest, IngestRefusedError }] = await Promise.all([
          import('../audio/wav.js'),
          import('../client/ingest.js'),
        ]);
        let wav: { sampleRateHz: number; samples: Int16Array };
        try {
          wav = decodeWav(await readFile(options.file));
        } catch (err) {
          throw new CliError(`cannot read ${options.file} as WAV: ${(err as Error).message}`);
        }
        const audio = toIngestRate(wav);
        const base = serverUrlFrom(options.url).replace(/^http/, 'ws').replace(/\/+$/, '');
        let caller: Ingesting;
        try {
          caller = await ingest(`${base}/ws/ingest/${encodeURIComponent(callId)}`, {
            participant: options.participant,
            sampleRate: audio.sampleRateHz as IngestSampleRateHz,
            authorization: apiKey,
          });
        } catch (err) {
          if (err instanceof IngestRefusedError)
            throw new CliError(`ingest refused: ${err.message.replace(/^ingest refused: /, '')}`);
          throw new CliError(`cannot connect: ${(err as Error).message}`);
        }
        const seconds = await stream(caller, audio, options.loop);
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

/** Plays the audio in real time (again and again with `loop`) until done, interrupted or closed. */
async function stream(
  caller: Ingesting,
  audio: { sampleRateHz: number; samples: Int16Array },
  loop: boolean,
): Promise<number> {
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  void caller.closed.then(interrupt);
  const start = performance.now();
  try {
    do await caller.play(audio.samples, { signal: stop.signal });
    while (loop && !stop.signal.aborted);
    await caller.end();
  } finally {
    process.off('SIGINT', interrupt);
  }
  return Math.round((performance.now() - start) / CHUNK_MS) * (CHUNK_MS / 1000);
}
