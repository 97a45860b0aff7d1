import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
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
        participants.length === 2 ? interleave(wav.channels[0], wav.channels[1]) : mixDown(wav.channels),
        participants.length,
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

/** The participant (default caller), or the two of --participants. */
function participantsOf(options: SimulateOptions): string[] {
  if (options.participants === undefined) return [options.participant ?? 'caller'];
  if (options.participant !== undefined) throw new CliError('--participant or --participants, not both');
  const names = options.participants.split(',').map((n) => n.trim());
  if (names.length !== 2 || names.some((n) => n === '') || names[0] === names[1])
    throw new CliError(
      `--participants: two different names, comma-separated (got "${options.participants}")`,
    );
  return names;
}

/** Left and right as one interleaved track, left first. */
function interleave(left: Int16Array, right: Int16Array): Int16Array {
  const out = new Int16Array(2 * Math.min(left.length, right.length));
  for (let i = 0; i < out.length / 2; i++) {
    out[2 * i] = left[i];
    out[2 * i + 1] = right[i];
  }
  return out;
}

/**
 * `samples` (of `channels` interleaved channels) at a rate the server takes: rates it takes stay as
 * they are; others (e.g. 44.1 kHz) become 16 kHz here, each channel resampled on its own.
 */
function toIngestRate(
  sampleRateHz: number,
  samples: Int16Array,
  channels: number,
): { sampleRateHz: number; samples: Int16Array } {
  if ((INGEST_SAMPLE_RATES_HZ as readonly number[]).includes(sampleRateHz)) return { sampleRateHz, samples };
  const frames = samples.length / channels;
  let out: Int16Array | null = null;
  for (let c = 0; c < channels; c++) {
    const channel = new Int16Array(frames);
    for (let i = 0; i < frames; i++) channel[i] = samples[i * channels + c];
    const resampler = createResampler(sampleRateHz, 16000);
    const converted = new Int16Array(resampler.maxOutputLength(frames));
    const n = resampler.process(channel, converted);
    out ??= new Int16Array(n * channels);
    for (let i = 0; i < Math.min(n, out.length / channels); i++) out[i * channels + c] = converted[i];
  }
  return { sampleRateHz: 16000, samples: out ?? new Int16Array(0) };
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
