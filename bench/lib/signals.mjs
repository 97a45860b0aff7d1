/** Test audio for the bench: μ-law 8 kHz ingest messages and 16 kHz PCM16 payloads. */
import { encodeMulaw } from '../../dist/audio/g711.js';

export const INGEST_RATE_HZ = 8000;
/** Samples in one 20 ms ingest message at 8 kHz (= bytes of μ-law). */
export const INGEST_SAMPLES = 160;
/** Bytes of one 20 ms listener payload (16 kHz PCM16 mono). */
export const LISTEN_PAYLOAD_BYTES = 640;
/** Bytes of one listener message on the wire (4-byte header + payload). */
export const LISTEN_MESSAGE_BYTES = 644;

function sine(freqHz, rateHz, length, amplitude, phase = 0) {
  const out = new Int16Array(length);
  for (let i = 0; i < length; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * freqHz * i) / rateHz + phase));
  return out;
}

function mulaw(samples) {
  const out = new Uint8Array(samples.length);
  encodeMulaw(samples, out);
  return Buffer.from(out);
}

/** One second of a tone at −20 dBFS, 8 kHz, as 50 consecutive 20 ms blocks (looping seamlessly). */
function toneBlocks(freqHz) {
  const all = sine(freqHz, INGEST_RATE_HZ, INGEST_SAMPLES * 50, 3277);
  return Array.from({ length: 50 }, (_, i) => all.subarray(i * INGEST_SAMPLES, (i + 1) * INGEST_SAMPLES));
}

/** 50 consecutive 20 ms μ-law payloads (one second, looping seamlessly) of a tone at −20 dBFS. */
export function toneMessages(freqHz) {
  return toneBlocks(freqHz).map(mulaw);
}

/** toneMessages' tone as 8 kHz PCM16 little-endian: 50 payloads of 320 bytes. */
export function tonePcm16Messages(freqHz) {
  return toneBlocks(freqHz).map((block) => {
    const out = Buffer.allocUnsafe(2 * block.length);
    for (let i = 0; i < block.length; i++) out.writeInt16LE(block[i], 2 * i);
    return out;
  });
}

/** One 20 ms μ-law payload of digital silence. */
export function silenceMessage() {
  return mulaw(new Int16Array(INGEST_SAMPLES));
}

/**
 * Latency markers: one 20 ms μ-law payload of a near-full-scale tone, in four frequencies (all in
 * the telephone band) so that a listener can tell consecutive markers apart — a marker lost on the
 * way is then counted as lost instead of being matched with the next one.
 */
export const MARKER_FREQUENCIES_HZ = [700, 1300, 2100, 2900];

export function markerMessages() {
  return MARKER_FREQUENCIES_HZ.map((f) => mulaw(sine(f, INGEST_RATE_HZ, INGEST_SAMPLES, 30000)));
}

/** Index into MARKER_FREQUENCIES_HZ of the strongest marker tone in a 16 kHz PCM16 LE payload (Goertzel). */
export function markerClass(buf) {
  const n = buf.length >> 1;
  let best = -1;
  let bestPower = -1;
  for (let c = 0; c < MARKER_FREQUENCIES_HZ.length; c++) {
    const coeff = 2 * Math.cos((2 * Math.PI * MARKER_FREQUENCIES_HZ[c]) / 16000);
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const s0 = buf.readInt16LE(2 * i) + coeff * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    if (power > bestPower) {
      bestPower = power;
      best = c;
    }
  }
  return best;
}

/** Largest |sample| of a PCM16 LE payload. */
export function peakPcm16(buf) {
  let peak = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) {
    const s = buf.readInt16LE(i);
    const a = s < 0 ? -s : s;
    if (a > peak) peak = a;
  }
  return peak;
}

function pcm16(samples) {
  const bytes = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(samples[i], i * 2);
  return bytes;
}

/** 16 kHz PCM16 payloads of a −20 dBFS 440 Hz tone for the baselines (one second, looping). */
export function listenPayloads() {
  const bytes = pcm16(sine(440, 16000, 320 * 50, 3277));
  return Array.from({ length: 50 }, (_, i) =>
    bytes.subarray(i * LISTEN_PAYLOAD_BYTES, (i + 1) * LISTEN_PAYLOAD_BYTES),
  );
}

/** One 20 ms 16 kHz PCM16 payload of a tone (`amplitude` of 32767), starting at phase 0. */
export function pcm16Tone(freqHz, amplitude) {
  return pcm16(sine(freqHz, 16000, LISTEN_PAYLOAD_BYTES / 2, amplitude));
}
