import type { WebSocket } from 'ws';
import { sine } from '../helpers/signals.js';
import { pcm16Bytes, sendPaced } from '../helpers/ws-clients.js';

const RATE = 16000;
const CHUNK = RATE / 50; // 20 ms

/**
 * 20 ms PCM16 chunks of a speech-like turn-taking signal: a tone during this participant's turns
 * (`turn` 0 or 1 of every two `turnMs` slots), silence otherwise, with 10 ms fades at turn edges.
 */
export function turnTakingChunks(options: {
  freqHz: number;
  turn: 0 | 1;
  seconds: number;
  turnMs?: number;
}): Buffer[] {
  const turnSamples = ((options.turnMs ?? 700) * RATE) / 1000;
  const fade = RATE / 100;
  const tone = sine({
    freqHz: options.freqHz,
    sampleRateHz: RATE,
    length: RATE * options.seconds,
    amplitudeDbfs: -12,
  });
  for (let i = 0; i < tone.length; i++) {
    const slot = Math.floor(i / turnSamples);
    const inSlot = i - slot * turnSamples;
    const envelope =
      slot % 2 === options.turn ? Math.min(1, inSlot / fade, (turnSamples - inSlot) / fade) : 0;
    tone[i] = Math.round(tone[i] * envelope);
  }
  const chunks: Buffer[] = [];
  for (let i = 0; i < tone.length; i += CHUNK) chunks.push(pcm16Bytes(tone.subarray(i, i + CHUNK)));
  return chunks;
}

/** Sends the chunks in real time until they run out or the socket closes (close it to stop). */
export function feed(ws: WebSocket, chunks: readonly Buffer[]): Promise<void> {
  return sendPaced(ws, chunks, 20, (c) => c);
}
