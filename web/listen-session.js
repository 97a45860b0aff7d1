// earshot console: plays one listen WebSocket through an AudioWorklet, exactly as a customer's page
// could: the URL comes from POST /v1/calls/{id}/listen, the socket gets binaryType 'arraybuffer',
// and every binary message (PCM16 LE, 16 kHz mono, 20 ms) is handed to the worklet's jitter buffer.
// The audio graph (`createPcmOutput`) is shared with <earshot-player> (player.js).

const WORKLET_URL = new URL('./pcm-player.worklet.js', import.meta.url);
export const INPUT_RATE = 16000;
export const TARGET_MS = 80;
export const MAX_MS = 250;

/**
 * One listening session. Create it inside the click handler (the AudioContext may only start on a
 * user gesture), then `connect(url)`. `onState({ state, code, reason })` reports connecting → live →
 * ended; `onStats(stats)` the worklet's counters; `onEvent(event)` the stream's JSON text frames.
 */
export class ListenSession {
  constructor({ onState, onStats, onEvent }) {
    this.onState = onState;
    this.onStats = onStats;
    this.onEvent = onEvent;
    this.context = new AudioContext({ latencyHint: 'interactive' });
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.analyser.smoothingTimeConstant = 0;
    this.node = null;
    this.socket = null;
    this.stoppedByUser = false;
    this.ended = false;
  }

  async connect(url) {
    this.onState({ state: 'connecting' });
    const node = await createPcmOutput(this.context, this.analyser, (stats) => this.onStats(stats));
    if (this.ended) return;
    this.node = node;
    if (this.context.state !== 'running') await this.context.resume();

    // events=1 adds JSON text frames (participants joining/leaving, audio the server had to drop).
    const wsUrl = new URL(url);
    wsUrl.searchParams.set('events', '1');
    const ws = new WebSocket(wsUrl);
    ws.binaryType = 'arraybuffer';
    this.socket = ws;
    ws.onopen = () => this.onState({ state: 'live' });
    ws.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) {
        this.node.port.postMessage(event.data, [event.data]);
        return;
      }
      try {
        this.onEvent(JSON.parse(event.data));
      } catch {
        // Not JSON: ignore (the stream only sends JSON text frames).
      }
    };
    ws.onclose = (event) => {
      this.teardownAudio();
      this.onState({ state: 'ended', code: event.code, reason: event.reason, byUser: this.stoppedByUser });
    };
  }

  /** Stop listening: closes the socket (1000) and the audio graph. */
  stop() {
    this.stoppedByUser = true;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close(1000, 'listener stopped');
    } else {
      this.teardownAudio();
      this.onState({ state: 'ended', code: null, reason: '', byUser: true });
    }
  }

  teardownAudio() {
    if (this.ended) return;
    this.ended = true;
    if (this.node) {
      this.node.port.postMessage({ type: 'close' });
      this.node.disconnect();
    }
    this.context.close().catch(() => {});
  }
}

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
