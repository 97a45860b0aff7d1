import { opusAvailability, opusBitrate } from '../audio/opus.js';
import { AppError } from '../domain/app-error.js';
import {
  LISTEN_ENCODINGS,
  LISTEN_FRAME_MS,
  LISTEN_SAMPLE_RATES_HZ,
  type ListenEncoding,
  type ListenFrameMs,
  type ListenSampleRateHz,
} from '../domain/audio-format.js';

/** What a listener receives; the defaults are exactly the Bland format (16 kHz mono PCM16, 20 ms). */
export interface ListenerFormat {
  readonly sampleRateHz: ListenSampleRateHz;
  readonly encoding: ListenEncoding;
  readonly channels: 1 | 2;
  readonly frameMs: ListenFrameMs;
  /** Also send JSON text frames (participant joined/left, gaps). */
  readonly events: boolean;
}

export const DEFAULT_LISTENER_FORMAT: ListenerFormat = Object.freeze({
  sampleRateHz: 16000,
  encoding: 'pcm16',
  channels: 1,
  frameMs: 20,
  events: false,
});

/** Parses the optional query parameters of /ws/listen (SPEC §3); VALIDATION_ERROR names the bad one. */
export function parseListenerFormat(query: URLSearchParams): ListenerFormat {
  const pick = <T extends string | number>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    const found = allowed.find((a) => String(a) === raw);
    if (found === undefined)
      throw new AppError('VALIDATION_ERROR', `${name} must be one of ${allowed.join(', ')}`);
    return found;
  };
  const encoding = pick('encoding', LISTEN_ENCODINGS, DEFAULT_LISTENER_FORMAT.encoding);
  if (encoding === 'opus') {
    const opus = opusAvailability();
    if (!opus.available)
      throw new AppError(
        'VALIDATION_ERROR',
        'encoding=opus is not available on this server (its Opus codec did not load)',
      );
  }
  return Object.freeze({
    sampleRateHz: pick('sample_rate', LISTEN_SAMPLE_RATES_HZ, DEFAULT_LISTENER_FORMAT.sampleRateHz),
    encoding,
    channels: pick('channels', [1, 2] as const, 1),
    frameMs: pick('frame_ms', LISTEN_FRAME_MS, DEFAULT_LISTENER_FORMAT.frameMs),
    events:
      pick('events', ['0', '1', 'true', 'false'] as const, '0') === '1' || query.get('events') === 'true',
  });
}

/** A key equal for listeners that can share every outgoing message byte for byte. */
export function formatKey(f: ListenerFormat): string {
  return `${f.sampleRateHz}/${f.encoding}/${f.channels}/${f.frameMs}`;
}

/** Bytes of audio payload in one message of this format (Opus: its nominal bit rate's; packets vary). */
export function messagePayloadBytes(f: ListenerFormat): number {
  if (f.encoding === 'opus') return Math.ceil((opusBitrate(f.sampleRateHz, f.channels) * f.frameMs) / 8000);
  return ((f.sampleRateHz * f.frameMs) / 1000) * f.channels * (f.encoding === 'pcm16' ? 2 : 1);
}
