import wavefile from 'wavefile';

/**
 * Reading WAV files (the demo's dialogue, `earshot simulate`): the `wavefile` library decodes every
 * common PCM/float/G.711 layout; this turns the result into mono PCM16.
 */

/** Reads a WAV file as mono PCM16 at its own sample rate (channels averaged). */
export function decodeWav(bytes: Uint8Array): { sampleRateHz: number; samples: Int16Array } {
  const wav = new wavefile.WaveFile(bytes);
  wav.toBitDepth('16');
  const fmt = wav.fmt as { sampleRate: number; numChannels: number };
  const raw = wav.getSamples(false, Int16Array) as unknown as Int16Array | Int16Array[];
  const channels = Array.isArray(raw) ? raw : [raw];
  if (channels.length === 1) return { sampleRateHz: fmt.sampleRate, samples: Int16Array.from(channels[0]) };
  const mono = new Int16Array(channels[0].length);
  for (let i = 0; i < mono.length; i++) {
    let sum = 0;
    for (const c of channels) sum += c[i];
    mono[i] = Math.round(sum / channels.length);
  }
  return { sampleRateHz: fmt.sampleRate, samples: mono };
}
