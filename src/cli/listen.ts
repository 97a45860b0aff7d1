import type { Command } from 'commander';
import { type ApiTarget, apiKeyFrom, callApi, SERVER_URL_HELP, serverUrlFrom } from './api-client.js';
import { CliError } from './cli-error.js';
import type { WavWriter } from './wav.js';

const SAMPLE_RATE_HZ = 16000;

export function registerListenCommand(program: Command): void {
  program
    .command('listen')
    .description('Listen to a live call: record it to a WAV file, or stream raw PCM to stdout')
    .argument('<call_id>', 'the call to listen to')
    .option('--out <file>', 'WAV file to write (default: <call_id>.wav)')
    .option(
      '--raw',
      'write raw PCM (s16le, 16 kHz, mono) to stdout instead, e.g. | ffplay -f s16le -ar 16000 -ac 1 -',
    )
    .option('--url <url>', SERVER_URL_HELP)
    .option('--api-key <key>', 'API key (default: $EARSHOT_API_KEY)')
    .action(
      async (callId: string, options: { out?: string; raw?: boolean; url?: string; apiKey?: string }) => {
        if (options.raw && options.out) throw new CliError('choose either --out or --raw');
        const target: ApiTarget = { url: serverUrlFrom(options.url), apiKey: apiKeyFrom(options.apiKey) };
        const { url } = await callApi<{ url: string }>(
          target,
          'POST',
          `/v1/calls/${encodeURIComponent(callId)}/listen`,
        );
        const { WavWriter } = await import('./wav.js');
        const out = options.raw
          ? null
          : await WavWriter.create(options.out ?? `${callId.replace(/[^\w.-]/g, '_')}.wav`, SAMPLE_RATE_HZ);
        await record(url, out, callId);
      },
    );
}

/** Receives the call until it ends (or Ctrl-C), writing every message; always leaves a valid file. */
async function record(url: string, out: WavWriter | null, callId: string): Promise<void> {
  const progress = process.stderr.isTTY ? new Progress() : null;
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let bytes = 0;
  let writing = Promise.resolve();
  const stop = () => ws.close(1000, 'listener done');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (!out) process.stdout.on('error', stop); // e.g. the player at the other end of the pipe quit
  try {
    const closed = await new Promise<{ code: number; reason: string }>((resolve, reject) => {
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) return;
        bytes += data.length;
        progress?.update(bytes, data);
        writing = writing.then(() => (out ? out.write(data) : writeStdout(data)));
      });
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      ws.on('error', (err) => reject(new CliError(`listen socket failed: ${err.message}`)));
    });
    await writing;
    progress?.done();
    const seconds = bytes / 2 / SAMPLE_RATE_HZ;
    const why =
      closed.code === 1000 && closed.reason === 'call ended'
        ? 'call ended'
        : `closed (${closed.code} ${closed.reason})`;
    process.stderr.write(`earshot: ${callId}: ${why} after ${seconds.toFixed(1)} s of audio\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await writing.catch(() => {});
    await out?.close();
  }
}

function writeStdout(data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(data)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/** One status line on a terminal: elapsed audio, bytes, and a level meter. */
class Progress {
  #lastDraw = 0;

  update(bytes: number, message: Buffer): void {
    const now = Date.now();
    if (now - this.#lastDraw < 200) return;
    this.#lastDraw = now;
    let sum = 0;
    const n = message.length >> 1;
    for (let i = 0; i < n; i++) {
      const s = message.readInt16LE(i * 2);
      sum += s * s;
    }
    const db = n === 0 || sum === 0 ? -96 : 20 * Math.log10(Math.sqrt(sum / n) / 32768) + 3.01;
    const bars = Math.max(0, Math.min(20, Math.round((db + 60) / 3)));
    const seconds = bytes / 2 / SAMPLE_RATE_HZ;
    const clock = `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${(seconds % 60).toFixed(1).padStart(4, '0')}`;
    process.stderr.write(
      `\r  ${clock}  ${(bytes / 1024).toFixed(0).padStart(6)} KiB  ${'█'.repeat(bars)}${'·'.repeat(20 - bars)} ${db.toFixed(0).padStart(4)} dBFS `,
    );
  }

  done(): void {
    process.stderr.write('\n');
  }
}
