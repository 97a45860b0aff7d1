import wavefile from 'wavefile';

/**
 * Reading WAV files (the demo's dialogue, `earshot simulate`): the `wavefile` library decodes every
 * common PCM/float/G.711 layout; this turns the result into PCM16, mono or a channel each.
 */

/** Reads a WAV file as mono PCM16 at its own sample rate (channels averaged). */
export function decodeWav(bytes: Uint8Array): { sampleRateHz: number; samples: Int16Array } {
  const { sampleRateHz, channels } = decodeWavChannels(bytes);
  return { sampleRateHz, samples: mixDown(channels) };
}

/** Channels of one length averaged into one (a single channel as it is). */
export function mixDown(channels: readonly Int16Array[]): Int16Array {
  if (channels.length === 1) return channels[0];
  const mono = new Int16Array(channels[0].length);
  for (let i = 0; i < mono.length; i++) {
    let sum = 0;
    for (const c of channels) sum += c[i];
    mono[i] = Math.round(sum / channels.length);
  }
  return mono;
}

/** Reads a WAV file as PCM16 at its own sample rate, one array per channel. */
export function decodeWavChannels(bytes: Uint8Array): { sampleRateHz: number; channels: Int16Array[] } {
  const wav = new wavefile.WaveFile(bytes);
  wav.toBitDepth('16');
  const fmt = wav.fmt as { sampleRate: number };
  const raw = wav.getSamples(false, Int16Array) as unknown as Int16Array | Int16Array[];
  const channels = (Array.isArray(raw) ? raw : [raw]).map((c) => Int16Array.from(c));
  return { sampleRateHz: fmt.sampleRate, channels };
}
