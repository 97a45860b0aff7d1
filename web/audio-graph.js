// The audio graph behind <earshot-player> (player.js) and the console's meters: every binary message
// of a listen WebSocket (PCM16 LE, 16 kHz mono, 20 ms) goes to the AudioWorklet's jitter buffer
// (pcm-player.worklet.js), then an analyser, then the speakers.

const WORKLET_URL = new URL('./pcm-player.worklet.js', import.meta.url);
export const INPUT_RATE = 16000;
export const TARGET_MS = 80;
export const MAX_MS = 250;

/**
 * The audio graph of a listen stream: the jitter-buffer worklet (pcm-player.worklet.js: 16 kHz PCM in,
 * resampled to the context's rate with drift correction) → `analyser` → the speakers. Post each binary
 * message to the returned node's port; `onStats` gets the worklet's counters four times a second.
 */
export async function createPcmOutput(context, analyser, onStats) {
  await context.audioWorklet.addModule(WORKLET_URL);
  const node = new AudioWorkletNode(context, 'earshot-pcm-player', {
    numberOfInputs: 0,
    numberOfOutputs: 1,
    outputChannelCount: [1],
    processorOptions: { inputRate: INPUT_RATE, targetMs: TARGET_MS, maxMs: MAX_MS },
  });
  node.port.onmessage = (event) => {
    if (event.data?.type === 'stats') onStats(event.data);
  };
  node.connect(analyser);
  analyser.connect(context.destination);
  return node;
}

/** RMS and peak level (dBFS, full-scale square wave = 0) of the analyser's current window. */
export function measureLevel(samples) {
  let sum = 0;
  let peak = 0;
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i];
    sum += v * v;
    const a = Math.abs(v);
    if (a > peak) peak = a;
  }
  const toDb = (x) => (x > 1e-6 ? 20 * Math.log10(x) : -120);
  return { rmsDbfs: toDb(Math.sqrt(sum / samples.length)), peakDbfs: toDb(peak) };
}
