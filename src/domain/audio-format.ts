/**
 * The canonical internal audio format: everything after ingest speaks 20 ms frames of 16 kHz mono
 * PCM16. These constants are the single source of those numbers.
 */
export const CANONICAL_SAMPLE_RATE_HZ = 16_000;
export const FRAME_MS = 20;
/** Samples in one canonical frame (16 000 Hz × 20 ms). */
export const FRAME_SAMPLES = (CANONICAL_SAMPLE_RATE_HZ * FRAME_MS) / 1000;

/** Encodings accepted on ingest. */
export const INGEST_ENCODINGS = ['pcm16', 'mulaw', 'alaw'] as const;
export type IngestEncoding = (typeof INGEST_ENCODINGS)[number];

/** Sample rates accepted on ingest. */
export const INGEST_SAMPLE_RATES_HZ = [8000, 16000, 24000, 32000, 48000] as const;
export type IngestSampleRateHz = (typeof INGEST_SAMPLE_RATES_HZ)[number];

/** Encodings a listener may ask for. */
export const LISTEN_ENCODINGS = ['pcm16', 'mulaw', 'opus'] as const;
export type ListenEncoding = (typeof LISTEN_ENCODINGS)[number];

/** Sample rates a listener may ask for. */
export const LISTEN_SAMPLE_RATES_HZ = [8000, 16000, 24000, 48000] as const;
export type ListenSampleRateHz = (typeof LISTEN_SAMPLE_RATES_HZ)[number];

/** Message durations a listener may ask for. */
export const LISTEN_FRAME_MS = [20, 40, 60, 100] as const;
export type ListenFrameMs = (typeof LISTEN_FRAME_MS)[number];

/**
 * One participant's audio after ingest: exactly FRAME_SAMPLES samples of 16 kHz PCM16.
 * `callPk` is the call's internal key (Call.pk), unique across organizations.
 * `seq` counts frames of this participant's track from 0; `captureTimeMs` is the wall-clock time
 * (ms since epoch) at which the ingest node finished receiving the frame's last sample.
 */
export interface TrackFrame {
  readonly callPk: string;
  readonly participant: string;
  readonly seq: number;
  readonly captureTimeMs: number;
  readonly samples: Int16Array;
}
