import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { mixStereo } from '../audio/mixer.js';
import { createResampler } from '../audio/resampler.js';
import type { Ingesting } from '../client/ingest.js';
import { INGEST_SAMPLE_RATES_HZ, type IngestSampleRateHz } from '../domain/audio-format.js';
import { apiKeyFrom, SERVER_URL_HELP, serverUrlFrom } from './api-client.js';
import { CliError } from './cli-error.js';

const CHUNK_MS = 20;

interface SimulateOptions {
  file: string;
  participant?: string;
  participants?: string;
  loop: boolean;
  url?: string;
  apiKey?: string;
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'Stream a WAV file into a call in real time, as one participant, or a stereo file as two on one socket',
    )
    .argument('<call_id>', 'the call to feed')
    .requiredOption(
      '--file <wav>',
      'WAV file (any common rate, mono or stereo; stereo is mixed down unless --participants)',
    )
    .option('--participant <name>', 'participant name (default: caller)')
    .option(
      '--participants <left,right>',
      "a stereo file's two channels as two participants on one socket (e.g. caller,agent)",
    )
    .option('--loop', 'start over at the end, until interrupted', false)
    .option('--url <url>', SERVER_URL_HELP)
    .option('--api-key <key>', 'API key (default: $EARSHOT_API_KEY)')
    .action(async (callId: string, options: SimulateOptions) => {
      const apiKey = apiKeyFrom(options.apiKey);
      const participants = participantsOf(options);
      // Loaded when the command runs, not when the CLI starts (`earshot --help` stays quick).
      const [{ decodeWavChannels, mixDown }, { ingest, IngestRefusedError }] = await Promise.all([
        import('../audio/wav.js'),
        import('../client/ingest.js'),
      ]);
      let wav: { sampleRateHz: number; channels: Int16Array[] };
      try {
        wav = decodeWavChannels(await readFile(options.file));
      } catch (err) {
        throw new CliError(`cannot read ${options.file} as WAV: ${(err as Error).message}`);
      }
      if (participants.length === 2 && wav.channels.length !== 2) {
        throw new CliError(
          `--participants needs a stereo WAV (left: ${participants[0]}, right: ${participants[1]}); ` +
            `${options.file} has ${wav.channels.length} channels`,
        );
      }
      const audio = toIngestRate(
        wav.sampleRateHz,
        participants.length === 2 ? wav.channels : [mixDown(wav.channels)],
      );
      const base = serverUrlFrom(options.url).replace(/^http/, 'ws').replace(/\/+$/, '');
      let sender: Ingesting;
      try {
        sender = await ingest(`${base}/ws/ingest/${encodeURIComponent(callId)}`, {
          ...(participants.length === 2
            ? { participants: participants as [string, string] }
            : { participant: participants[0] }),
          sampleRate: audio.sampleRateHz as IngestSampleRateHz,
          authorization: apiKey,
        });
      } catch (err) {
        if (err instanceof IngestRefusedError)
          throw new CliError(`ingest refused: ${err.message.replace(/^ingest refused: /, '')}`);
        throw new CliError(`cannot connect: ${(err as Error).message}`);
      }
      const seconds = await stream(sender, audio.samples, options.loop);
      process.stderr.write(
        `earshot: streamed ${seconds.toFixed(1)} s into ${callId} as ${participants.join(' and ')}\n`,
      );
    });
}

/** The participant (default caller), or the two of --participants (the server checks the names). */
function participantsOf(options: SimulateOptions): string[] {
  if (options.participants === undefined) return [options.participant ?? 'caller'];
  if (options.participant !== undefined) throw new CliError('--participant or --participants, not both');
  const names = options.participants.split(',').map((n) => n.trim());
  if (names.length !== 2)
    throw new CliError(`--participants: two names, comma-separated (got "${options.participants}")`);
  return names;
}

/**
 * The tracks (one, or a stereo file's two) as the samples to send, at a rate the server takes:
 * rates it takes stay as they are, others (e.g. 44.1 kHz) become 16 kHz, each track resampled on
 * its own; two tracks are interleaved, the first on the left (as the server reads `channels=2`).
 */
function toIngestRate(
  sampleRateHz: number,
  tracks: Int16Array[],
): { sampleRateHz: number; samples: Int16Array } {
  const keep = (INGEST_SAMPLE_RATES_HZ as readonly number[]).includes(sampleRateHz);
  const rate = keep ? sampleRateHz : 16000;
  const atRate = tracks.map((track) => {
    if (keep) return track;
    const resampler = createResampler(sampleRateHz, rate);
    const out = new Int16Array(resampler.maxOutputLength(track.length));
    return out.subarray(0, resampler.process(track, out));
  });
  if (atRate.length === 1) return { sampleRateHz: rate, samples: atRate[0] };
  const samples = new Int16Array(2 * Math.min(atRate[0].length, atRate[1].length));
  mixStereo(atRate, 2, samples);
  return { sampleRateHz: rate, samples };
}

/** Plays the audio in real time (again and again with `loop`) until done, interrupted or closed; returns the seconds streamed. */
async function stream(sender: Ingesting, samples: Int16Array, loop: boolean): Promise<number> {
  const stop = new AbortController();
  const interrupt = () => stop.abort();
  process.once('SIGINT', interrupt);
  void sender.closed.then(interrupt);
  const start = performance.now();
  try {
    do await sender.play(samples, { signal: stop.signal });
    while (loop && !stop.signal.aborted);
    await sender.end();
  } finally {
    process.off('SIGINT', interrupt);
  }
  return Math.round((performance.now() - start) / CHUNK_MS) * (CHUNK_MS / 1000);
}
