// <earshot-player>'s AudioWorklet: plays a listen stream (PCM16 LE at 16 kHz mono, or decoded Opus).
//
// Runs on the audio rendering thread. The page posts every WebSocket binary message here as an
// ArrayBuffer (or the decoder's samples); this processor keeps a ring buffer of samples (the jitter
// buffer) and resamples them from the input rate (16 kHz unless told) to the AudioContext's own rate (`sampleRate`, often 48 000 or 44 100 Hz) with a
// 4-point cubic (Catmull-Rom) interpolator that reads straight across message boundaries, so frame
// edges never click.
//
// Buffer policy (all sizes are in input samples, at the input rate):
// - Start (and restart after an underrun) once `targetMs` of audio is buffered, fading in over 5 ms.
// - Clock drift between the server and the sound card is absorbed by playing up to ±0.5 % faster or
//   slower, in proportion to how far the smoothed buffer level (1 s average) is from the target,
//   beyond a ±10 ms dead band. The pitch change is inaudible and nothing is dropped.
// - Audio that arrives in a burst after a network stall is already late: if the buffer exceeds
//   `maxMs` (250), or its smoothed level stays more than 60 ms above the target for 2 s, the oldest
//   audio is skipped down to the target with a 4 ms crossfade and counted as an overflow drop.
// - If it runs dry, the output decays to silence (no step) and counts as an underrun; every output
//   frame of silence until playback restarts counts as late audio.
//
// Messages from the page: ArrayBuffer (PCM16 LE samples), Float32Array (mono samples, e.g. decoded
// Opus), { type: 'format', inputRate } (what follows is at that rate: resets) or { type: 'reset' }.
// Messages to the page: { type: 'stats', ... } about four times a second.

const RING_SIZE = 1 << 16; // 65 536 samples: 4 s at 16 kHz, 1.4 s at 48 kHz, far above maxMs
const RING_MASK = RING_SIZE - 1;
const MAX_RATE_ADJUST = 0.005; // ±0.5 %
const RATE_GAIN = 0.01; // rate adjustment per unit of relative buffer error
const DEADBAND_MS = 10; // messages arrive every 20 ms: the level's own sawtooth is not drift
const FILL_SMOOTHING_S = 1; // time constant of the buffer-level average
const EXCESS_MS = 60; // a smoothed level this far above the target …
const EXCESS_HOLD_S = 2; // … for this long is skipped rather than slowly played away
const FADE_IN_S = 0.005;
const CROSSFADE_S = 0.004;
const STATS_INTERVAL_S = 0.25;

class PcmPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions ?? {};
    this.targetMs = o.targetMs ?? 80;
    this.maxMs = o.maxMs ?? 250;
    this.excessFrames = 0; // output frames the smoothed level has been in excess

    this.ring = new Float32Array(RING_SIZE);
    this.written = 0; // input samples ever written (absolute index of the next one)
    this.readPos = 0; // absolute, fractional read position in input samples
    this.playing = false;
    this.started = false; // played at least once (silence before that is not "late")
    this.gain = 0; // fade-in gain
    this.last = 0; // last output value, for a smooth decay on underrun
    this.smoothedFill = 0;
    this.setInputRate(o.inputRate ?? 16000);
    this.xfadeFrom = -1; // read position being faded out after a skip, or -1
    this.xfadeLeft = 0;
    this.xfadeLen = Math.max(1, Math.round(CROSSFADE_S * sampleRate));
    this.fadeInc = 1 / Math.max(1, Math.round(FADE_IN_S * sampleRate));

    this.stats = {
      receivedSamples: 0,
      playedSamples: 0,
      outputFrames: 0,
      underruns: 0,
      lateFrames: 0,
      overflowDrops: 0,
      droppedSamples: 0,
    };
    this.framesSinceStats = 0;
    this.statsEvery = Math.round(STATS_INTERVAL_S * sampleRate);
    this.closed = false;

    this.port.onmessage = (event) => {
      const data = event.data;
      if (data instanceof ArrayBuffer) this.write(data);
      else if (data instanceof Float32Array) this.writeFloat(data);
      else if (data?.type === 'format') {
        this.reset();
        this.setInputRate(data.inputRate);
      } else if (data?.type === 'reset') this.reset();
      else if (data?.type === 'close') this.closed = true;
    };
  }

  /** The rate of the samples written from now on (8–96 kHz): every size in input samples follows it. */
  setInputRate(rate) {
    this.inputRate = Math.min(96000, Math.max(8000, Number(rate) || 16000));
    this.targetFill = Math.round((this.inputRate * this.targetMs) / 1000);
    this.maxFill = Math.min(RING_SIZE - 1024, Math.round((this.inputRate * this.maxMs) / 1000));
    this.excessFill = Math.round((this.inputRate * EXCESS_MS) / 1000);
    this.deadband = (this.inputRate * DEADBAND_MS) / 1000;
    this.baseStep = this.inputRate / sampleRate; // input samples per output frame
    this.step = this.baseStep;
    this.smoothedFill = 0;
  }

  reset() {
    this.written = 0;
    this.readPos = 0;
    this.playing = false;
    this.started = false;
    this.gain = 0;
    this.xfadeFrom = -1;
    this.ring.fill(0);
  }

  write(buffer) {
    const view = new DataView(buffer);
    const n = buffer.byteLength >> 1;
    for (let i = 0; i < n; i++)
      this.ring[(this.written + i) & RING_MASK] = view.getInt16(i * 2, true) / 32768;
    this.advanceWriter(n);
  }

  /** Mono float samples (what a WebCodecs AudioDecoder gives), at the current input rate. */
  writeFloat(samples) {
    const n = samples.length;
    for (let i = 0; i < n; i++) this.ring[(this.written + i) & RING_MASK] = samples[i];
    this.advanceWriter(n);
  }

  advanceWriter(n) {
    this.written += n;
    this.stats.receivedSamples += n;
    // Rendering stalled for seconds (context suspended): never let the writer lap the reader.
    if (this.written - this.readPos > RING_SIZE - 4) this.skipTo(this.written - this.targetFill, false);
  }

  /** Skips the read position forward to `pos` (dropping audio), crossfading if playing. */
  skipTo(pos, crossfade) {
    const dropped = Math.floor(pos - this.readPos);
    if (dropped <= 0) return;
    this.stats.overflowDrops += 1;
    this.stats.droppedSamples += dropped;
    if (crossfade) {
      this.xfadeFrom = this.readPos;
      this.xfadeLeft = this.xfadeLen;
    }
    this.readPos = pos;
  }

  /** Catmull-Rom interpolation at absolute position `pos` (needs samples pos-1 … pos+2). */
  sampleAt(pos) {
    const i = Math.floor(pos);
    const t = pos - i;
    const r = this.ring;
    const y0 = r[(i - 1) & RING_MASK];
    const y1 = r[i & RING_MASK];
    const y2 = r[(i + 1) & RING_MASK];
    const y3 = r[(i + 2) & RING_MASK];
    const a = -0.5 * y0 + 1.5 * y1 - 1.5 * y2 + 0.5 * y3;
    const b = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3;
    const c = -0.5 * y0 + 0.5 * y2;
    return ((a * t + b) * t + c) * t + y1;
  }

  /** Once per render quantum: start/stop decisions, overflow skip, drift-correcting rate. */
  manage(frames) {
    const fill = this.written - this.readPos;
    if (!this.playing) {
      // Starting after a stall with a burst of late audio: start from recent audio, not behind.
      if (fill > this.targetFill + this.excessFill) this.skipTo(this.written - this.targetFill, false);
      if (this.written - this.readPos >= this.targetFill) {
        this.playing = true;
        this.started = true;
        this.gain = 0;
        this.smoothedFill = this.written - this.readPos;
      }
      return;
    }
    const alpha = 1 - Math.exp(-frames / (sampleRate * FILL_SMOOTHING_S));
    this.smoothedFill += alpha * (fill - this.smoothedFill);
    this.excessFrames =
      this.smoothedFill > this.targetFill + this.excessFill ? this.excessFrames + frames : 0;
    if (fill > this.maxFill || this.excessFrames >= EXCESS_HOLD_S * sampleRate) {
      this.skipTo(this.written - this.targetFill, true);
      this.smoothedFill = this.targetFill;
      this.excessFrames = 0;
    }
    const off = this.smoothedFill - this.targetFill;
    const error = (Math.sign(off) * Math.max(0, Math.abs(off) - this.deadband)) / this.targetFill;
    const adjust = Math.max(-MAX_RATE_ADJUST, Math.min(MAX_RATE_ADJUST, error * RATE_GAIN));
    this.step = this.baseStep * (1 + adjust);
  }

  process(_inputs, outputs) {
    const channels = outputs[0];
    const out = channels[0];
    const frames = out.length;
    this.manage(frames);

    for (let j = 0; j < frames; j++) {
      if (this.playing && Math.floor(this.readPos) + 2 >= this.written) {
        // Ran dry: stop, wait for targetMs again.
        this.playing = false;
        this.stats.underruns += 1;
        this.xfadeFrom = -1;
      }
      if (!this.playing) {
        this.last *= 0.99; // decays to silence in a few ms: no step at the edge
        out[j] = this.last;
        if (this.started) this.stats.lateFrames += 1;
        continue;
      }
      let y = this.sampleAt(this.readPos);
      if (this.xfadeFrom >= 0) {
        const w = this.xfadeLeft / this.xfadeLen;
        y = y * (1 - w) + this.sampleAt(this.xfadeFrom) * w;
        this.xfadeFrom += this.step;
        if (--this.xfadeLeft <= 0) this.xfadeFrom = -1;
      }
      if (this.gain < 1) this.gain = Math.min(1, this.gain + this.fadeInc);
      y *= this.gain;
      out[j] = y;
      this.last = y;
      const before = Math.floor(this.readPos);
      this.readPos += this.step;
      this.stats.playedSamples += Math.floor(this.readPos) - before;
    }
    for (let c = 1; c < channels.length; c++) channels[c].set(out);

    this.stats.outputFrames += frames;
    this.framesSinceStats += frames;
    if (this.framesSinceStats >= this.statsEvery) {
      this.framesSinceStats = 0;
      this.postStats();
    }
    return !this.closed;
  }

  postStats() {
    this.port.postMessage({
      type: 'stats',
      ...this.stats,
      playing: this.playing,
      bufferedMs: ((this.written - this.readPos) * 1000) / this.inputRate,
      targetMs: (this.targetFill * 1000) / this.inputRate,
      rateAdjustPpm: Math.round((this.step / this.baseStep - 1) * 1e6),
      contextRate: sampleRate,
      inputRate: this.inputRate,
    });
  }
}

registerProcessor('earshot-pcm-player', PcmPlayer);
