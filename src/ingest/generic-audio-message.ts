import { AppError } from '../domain/app-error.js';
import { INGEST_CHANNELS, type IngestAudioFormat } from './generic-ingest-params.js';

/** Longest audio one generic ingest message may carry. Real-time senders use 10–100 ms. */
const MAX_INGEST_MESSAGE_MS = 1000;

/** Bytes of one sample of one channel: 2 for `pcm16`, 1 for G.711 (`mulaw`, `alaw`). */
function bytesPerSample(encoding: IngestAudioFormat['encoding']): 1 | 2 {
  return encoding === 'pcm16' ? 2 : 1;
}

/** Bytes of one sample frame (one sample of every channel): the unit a message must be a multiple of. */
export function bytesPerFrame(format: IngestAudioFormat): number {
  return bytesPerSample(format.encoding) * format.channels;
}

/** Largest accepted message for `format`: {@link MAX_INGEST_MESSAGE_MS} of audio, in bytes. */
export function maxIngestMessageBytes(format: IngestAudioFormat): number {
  return ((format.sampleRateHz * MAX_INGEST_MESSAGE_MS) / 1000) * bytesPerFrame(format);
}

/**
 * Largest accepted message over every format (48 kHz stereo pcm16: 192 000 bytes): a fit for the
 * WebSocket server's `maxPayload`, so that oversized frames are refused before being buffered.
 */
export const MAX_GENERIC_INGEST_MESSAGE_BYTES = maxIngestMessageBytes({
  encoding: 'pcm16',
  sampleRateHz: 48_000,
  channels: INGEST_CHANNELS[INGEST_CHANNELS.length - 1],
});

/**
 * Validates one binary generic-ingest message against the connection's format and returns the
 * number of samples per channel it holds. Only the length is read; the bytes are neither copied
 * nor inspected (every bit pattern is a valid sample in all three encodings).
 *
 * @throws AppError `MESSAGE_TOO_BIG` (close 1009) above {@link maxIngestMessageBytes};
 *   `INVALID_PAYLOAD` (close 1007) when empty or not a whole number of sample frames.
 */
export function validateGenericAudioMessage(data: Uint8Array, format: IngestAudioFormat): number {
  const byteLength = data.byteLength;
  if (byteLength > maxIngestMessageBytes(format)) {
    throw new AppError('MESSAGE_TOO_BIG', `audio message exceeds ${MAX_INGEST_MESSAGE_MS} ms`);
  }
  if (byteLength === 0) throw new AppError('INVALID_PAYLOAD', 'audio message is empty');
  const frameBytes = bytesPerFrame(format);
  if (byteLength % frameBytes !== 0) {
    throw new AppError(
      'INVALID_PAYLOAD',
      `audio message must be a whole number of ${frameBytes}-byte sample frames (${format.encoding}, ${format.channels} ch)`,
    );
  }
  return byteLength / frameBytes;
}
