// <earshot-player>: plays a live call in any web page, no build step (SPEC §6).
//
//   <script type="module" src="https://earshot.example.com/player.js"></script>
//   <earshot-player src="wss://earshot.example.com/ws/listen/CALL?token=…"></earshot-player>
//
// or, so that it can reconnect with a fresh URL: `player.urlProvider = async () => (await myApi()).url`.
// The stream goes through an AudioWorklet jitter buffer with drift correction (pcm-player.worklet.js).
// A URL with `encoding=opus` is played as Opus (a tenth of PCM's bytes), decoded with WebCodecs
// where the browser has an Opus AudioDecoder, else asked for as 16 kHz PCM instead;
// the element shows its state, level, waveform and who is speaking, offers a click-to-start control
// when the browser blocks autoplay, reconnects after a drop (reporting the outage as a gap), and
// dispatches `statechange` ({ state, code, reason }), `gap` ({ ms, count }) and `streamevent` (the
// stream's JSON events). Styleable through CSS parts: start, state, level, waveform, speakers, gaps.
import { createPcmOutput, INPUT_RATE, measureLevel } from './audio-graph.js';

const FIRST_RECONNECT_DELAY_MS = 250;
const MAX_RECONNECT_DELAY_MS = 5000;
/** Attempts that never open (a dead URL, refused credentials) before the player gives up. */
const MAX_FAILED_OPENS = 5;
/** How long resume() may take before the browser is taken to be blocking autoplay. */
const AUTOPLAY_WAIT_MS = 300;

// Adopted as a constructed stylesheet, not an inline <style>: pages with a strict
// Content-Security-Policy (no 'unsafe-inline' styles, as earshot's own console) style it too.
const STYLES = `
  :host { display: inline-flex; align-items: center; gap: .5em; font: 13px/1.4 system-ui, sans-serif;
    padding: .35em .6em; border: 1px solid #8884; border-radius: .5em; }
  :host([hidden]) { display: none; }
  [part=state]::before { content: '●'; margin-right: .3em; color: #999; }
  :host([state=live]) [part=state]::before { color: #1a7f37; }
  :host([state=connecting]) [part=state]::before, :host([state=reconnecting]) [part=state]::before { color: #bf8700; }
  :host([state=error]) [part=state]::before { color: #cf222e; }
  [part=waveform] { width: 160px; height: 32px; }
  [part=level] { width: 60px; }
  [part=speakers]:empty, [part=gaps]:empty { display: none; }
  /* A word, not an emoji: without an emoji font that shows as a box. */
  [part=speakers]::before { content: 'speaking: '; color: #666; }
  button[hidden] { display: none; }
`;

const TEMPLATE = `
<button part="start" type="button" hidden>▶ Listen</button>
<span part="state">idle</span>
<canvas part="waveform" width="320" height="64" aria-hidden="true"></canvas>
<meter part="level" min="-60" max="0" low="-30" high="-6" optimum="-20" value="-60" aria-label="level"></meter>
<span part="speakers" aria-live="polite"></span>
<span part="gaps"></span>`;

export class EarshotPlayer extends HTMLElement {
  static observedAttributes = ['src'];
  #urlProvider = null;
  #context = null;
  #analyser = null;
  #node = null;
  #socket = null;
  #state = 'idle';
  /** Bumped by every play() and stop(): an older play() still awaiting something gives up. */
  #generation = 0;
  #nodeReady = null;
  #attempt = 0;
  #failedOpens = 0;
  #outageSince = null;
  #timer = null;
  #frame = 0;
  #gaps = { count: 0, ms: 0 };
  #stats = null;
  #speaking = new Set();
  #ui = null;
  /** The open socket's Opus decoder (WebCodecs), or null for PCM. */
  #decoder = null;
  /** What the socket carries: { encoding, sampleRate, bytes, messages }. */
  #stream = null;
  /** The rate the worklet was last told its input is at. */
  #inputRate = INPUT_RATE;
  /** Opus decoding failed once in this browser: PCM from then on. */
  #opusFailed = false;

  constructor() {
    super();
    // In the constructor: an upgraded element gets attributeChangedCallback before connectedCallback.
    this.#render();
  }

  /** An async function returning a fresh listen URL: used first (over `src`) and again to reconnect. */
  get urlProvider() {
    return this.#urlProvider;
  }
  set urlProvider(provider) {
    this.#urlProvider = typeof provider === 'function' ? provider : null;
    this.#autostart();
  }

  get src() {
    return this.getAttribute('src') ?? '';
  }
  set src(value) {
    this.setAttribute('src', value);
  }

  /** `idle`, `connecting`, `live`, `reconnecting`, `ended` or `error`. */
  get state() {
    return this.#state;
  }

  /** The AnalyserNode after the jitter buffer (for visualizations and tests), once playing. */
  get analyser() {
    return this.#analyser;
  }

  /** The worklet's latest counters (buffered ms, underruns, drift correction), or null. */
  get stats() {
    return this.#stats;
  }

  /**
   * What the socket carries now: `encoding` (`opus` or `pcm16`), `sampleRate`, and the `bytes` and
   * `messages` received on it; null when not connected.
   */
  get stream() {
    return this.#stream ? { ...this.#stream } : null;
  }

  /** Outages so far: how many, and their total ms (reconnections and audio the server dropped). */
  get gaps() {
    return { ...this.#gaps };
  }

  /** The output's level now (the analyser's window): RMS and peak in dBFS; −120 when not playing. */
  get level() {
    if (!this.#analyser) return { rmsDbfs: -120, peakDbfs: -120 };
    const samples = new Float32Array(this.#analyser.fftSize);
    this.#analyser.getFloatTimeDomainData(samples);
    return measureLevel(samples);
  }

  /** The AudioContext's state (`running`, `suspended`, `closed`) and its output rate, or null. */
  get audio() {
    return this.#context ? { state: this.#context.state, sampleRate: this.#context.sampleRate } : null;
  }

  /** Whether the click-to-start control is showing (the browser blocked autoplay). */
  get needsGesture() {
    return this.#ui ? !this.#ui.start.hidden : false;
  }

  connectedCallback() {
    this.#autostart();
  }

  disconnectedCallback() {
    this.stop();
  }

  attributeChangedCallback(name, previous, value) {
    if (name !== 'src' || previous === value || !this.isConnected) return;
    if (this.#state !== 'idle' && !this.#urlProvider) {
      this.stop();
      this.#setState('idle');
    }
    this.#autostart();
  }

  /** Starts playing, or starts over (call it from a click handler where autoplay is blocked). */
  async play() {
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    clearTimeout(this.#timer);
    this.#closeSocket();
    try {
      if (!window.isSecureContext)
        throw new Error(
          'the player needs a secure context (an https page, or localhost): AudioWorklet is not available',
        );
      this.#context ??= new AudioContext({ latencyHint: 'interactive' });
      const context = this.#context;
      if (context.state !== 'running') {
        const resumed = context.resume().catch(() => {});
        await Promise.race([resumed, new Promise((r) => setTimeout(r, AUTOPLAY_WAIT_MS))]);
        if (!current()) return;
      }
      if (context.state !== 'running') {
        this.#ui.start.hidden = false;
        return;
      }
      this.#ui.start.hidden = true;
      // One graph per AudioContext, however many play() calls overlap.
      this.#nodeReady ??= this.#buildGraph(context);
      await this.#nodeReady;
      if (!current()) return;
      this.#attempt = 0;
      this.#failedOpens = 0;
      this.#outageSince = null;
      await this.#connect(generation);
    } catch (err) {
      if (!current()) return;
      console.error('earshot-player:', err);
      this.#setState('error', { code: null, reason: String(err?.message ?? err) });
    }
  }

  async #buildGraph(context) {
    const analyser = context.createAnalyser();
    analyser.fftSize = 2048;
    analyser.smoothingTimeConstant = 0;
    const node = await createPcmOutput(context, analyser, (stats) => {
      this.#stats = stats;
    });
    if (this.#context !== context) return;
    this.#analyser = analyser;
    this.#node = node;
    this.#draw();
  }

  /** Stops: closes the socket (1000) and the audio. */
  stop() {
    this.#generation++;
    clearTimeout(this.#timer);
    this.#closeSocket();
    this.#teardown();
    if (this.#state !== 'idle' && this.#state !== 'ended' && this.#state !== 'error')
      this.#setState('ended', { code: 1000, reason: 'listener stopped', byUser: true });
  }

  /** Closes the socket (1000) without a word: its handlers see it is no longer the current one. */
  #closeSocket() {
    const ws = this.#socket;
    this.#socket = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'listener stopped');
  }

  #autostart() {
    if (!this.isConnected || this.#state !== 'idle') return;
    if (!this.#urlProvider && !this.src) return;
    void this.play();
  }

  async #connect(generation) {
    const current = () => generation === this.#generation;
    this.#setState(this.#attempt > 0 ? 'reconnecting' : 'connecting');
    let url;
    try {
      // The provider's own error (e.g. the API's "Call has ended") is the reason, as it words it.
      const given = this.#urlProvider ? await this.#urlProvider() : this.src;
      try {
        url = new URL(given, location.href);
      } catch {
        throw new Error(`not a listen URL: ${String(given).slice(0, 100)}`);
      }
    } catch (err) {
      if (current()) this.#setState('error', { code: null, reason: String(err?.message ?? err) });
      return;
    }
    if (!current()) return;
    // What the worklet plays: mono, any frame_ms. Opus is kept (at the URL's rate) where this browser
    // decodes it; every other format — and Opus where it cannot — is asked for as 16 kHz PCM16.
    url.searchParams.set('events', '1');
    url.searchParams.delete('channels');
    const opusRate = Number(url.searchParams.get('sample_rate') ?? INPUT_RATE);
    const opus =
      url.searchParams.get('encoding') === 'opus' && !this.#opusFailed && (await opusDecodable(opusRate));
    if (!current()) return;
    if (!opus) {
      url.searchParams.delete('encoding');
      url.searchParams.delete('sample_rate');
      this.#tellInputRate(INPUT_RATE);
    }
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    this.#socket = ws;
    this.#closeDecoder();
    this.#stream = {
      encoding: opus ? 'opus' : 'pcm16',
      sampleRate: opus ? opusRate : INPUT_RATE,
      bytes: 0,
      messages: 0,
    };
    if (opus)
      this.#decoder = this.#openDecoder(opusRate, Number(url.searchParams.get('frame_ms') ?? 20), generation);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.#failedOpens = 0;
      if (this.#outageSince !== null) this.#addGap(performance.now() - this.#outageSince);
      this.#outageSince = null;
      this.#attempt = 0;
      this.#setState('live');
    };
    ws.onmessage = (event) => {
      if (!(event.data instanceof ArrayBuffer)) return this.#onStreamEvent(event.data);
      if (this.#socket !== ws) return;
      this.#stream.bytes += event.data.byteLength;
      this.#stream.messages++;
      if (this.#decoder) this.#decoder.decode(event.data);
      else this.#node?.port.postMessage(event.data, [event.data]);
    };
    ws.onclose = (event) => {
      if (this.#socket !== ws || !current()) return;
      this.#socket = null;
      this.#closeDecoder();
      this.#stream = null;
      const close = { code: event.code, reason: event.reason };
      // The call ended (or the server shut down for good): nothing to come back to.
      if (event.code === 1000) {
        this.#teardown();
        this.#setState('ended', close);
        return;
      }
      if (!opened && ++this.#failedOpens >= MAX_FAILED_OPENS) {
        this.#teardown();
        this.#setState('error', { code: event.code, reason: event.reason || 'cannot connect' });
        return;
      }
      // Revoked, too slow, the network: again, with a fresh URL when there is a provider.
      this.#outageSince ??= performance.now();
      this.#attempt++;
      const delay = Math.min(MAX_RECONNECT_DELAY_MS, FIRST_RECONNECT_DELAY_MS * 2 ** (this.#attempt - 1));
      this.#setState('reconnecting', close);
      this.#timer = setTimeout(() => {
        if (current()) void this.#connect(generation);
      }, delay);
    };
  }

  /**
   * A WebCodecs Opus decoder for one socket: each message one packet; its output (at whatever rate
   * the browser decodes to — Chromium always gives 48 kHz) goes to the worklet as float samples.
   * Should decoding fail, the player goes on with PCM: it reconnects asking for that.
   */
  #openDecoder(sampleRate, frameMs, generation) {
    let timestamp = 0;
    const decoder = new AudioDecoder({
      output: (data) => {
        try {
          if (this.#decoder?.native !== decoder || !this.#node) return;
          const samples = new Float32Array(data.numberOfFrames);
          data.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
          this.#tellInputRate(data.sampleRate);
          this.#node.port.postMessage(samples, [samples.buffer]);
        } finally {
          data.close();
        }
      },
      error: (err) => {
        if (this.#decoder?.native !== decoder || generation !== this.#generation) return;
        console.warn('earshot-player: Opus decoding failed, going on with PCM:', err);
        this.#opusFailed = true;
        this.#closeSocket();
        this.#closeDecoder();
        this.#stream = null;
        this.#outageSince ??= performance.now();
        void this.#connect(generation);
      },
    });
    decoder.configure({ codec: 'opus', sampleRate, numberOfChannels: 1 });
    return {
      native: decoder,
      decode(packet) {
        if (decoder.state !== 'configured') return;
        decoder.decode(new EncodedAudioChunk({ type: 'key', timestamp, data: packet }));
        timestamp += frameMs * 1000;
      },
    };
  }

  #closeDecoder() {
    const decoder = this.#decoder?.native;
    this.#decoder = null;
    if (decoder && decoder.state !== 'closed') decoder.close();
  }

  /** Tells the worklet the rate of what follows (it starts its buffer over), when that changes. */
  #tellInputRate(rate) {
    if (rate === this.#inputRate) return;
    this.#inputRate = rate;
    this.#node?.port.postMessage({ type: 'format', inputRate: rate });
  }

  #onStreamEvent(text) {
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (event.type === 'gap' && typeof event.ms === 'number') this.#addGap(event.ms);
    else if (event.type === 'speaking') {
      if (event.state === 'start') this.#speaking.add(event.name);
      else this.#speaking.delete(event.name);
      this.#showSpeakers();
    } else if (event.type === 'participant' && event.state === 'left') {
      this.#speaking.delete(event.name);
      this.#showSpeakers();
    }
    this.dispatchEvent(new CustomEvent('streamevent', { detail: event }));
  }

  #showSpeakers() {
    this.#ui.speakers.textContent = [...this.#speaking].join(', ');
  }

  #addGap(ms) {
    this.#gaps.count++;
    this.#gaps.ms += Math.round(ms);
    this.#ui.gaps.textContent = `${this.#gaps.count} gap${this.#gaps.count === 1 ? '' : 's'} (${(this.#gaps.ms / 1000).toFixed(1)} s)`;
    this.dispatchEvent(new CustomEvent('gap', { detail: { ms: Math.round(ms), ...this.#gaps } }));
  }

  #setState(state, { code = null, reason = '', byUser = false } = {}) {
    const changed = state !== this.#state || !this.hasAttribute('state');
    this.#state = state;
    this.setAttribute('state', state);
    this.#ui.state.textContent = state;
    if (changed)
      this.dispatchEvent(new CustomEvent('statechange', { detail: { state, code, reason, byUser } }));
  }

  #teardown() {
    cancelAnimationFrame(this.#frame);
    this.#closeDecoder();
    this.#stream = null;
    this.#inputRate = INPUT_RATE;
    if (this.#node) {
      this.#node.port.postMessage({ type: 'close' });
      this.#node.disconnect();
    }
    this.#node = null;
    this.#nodeReady = null;
    this.#analyser = null;
    this.#context?.close().catch(() => {});
    this.#context = null;
    this.#stats = null;
    this.#speaking.clear();
    if (this.#ui) this.#ui.speakers.textContent = '';
  }

  #render() {
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = TEMPLATE;
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    root.adoptedStyleSheets = [sheet];
    const part = (name) => root.querySelector(`[part=${name}]`);
    this.#ui = {
      start: part('start'),
      state: part('state'),
      waveform: part('waveform'),
      level: part('level'),
      speakers: part('speakers'),
      gaps: part('gaps'),
    };
    this.#ui.start.addEventListener('click', () => void this.play());
  }

  /** Level meter and waveform, once per animation frame while playing. */
  #draw() {
    const analyser = this.#analyser;
    if (!analyser) return;
    const samples = new Float32Array(analyser.fftSize);
    const canvas = this.#ui.waveform;
    const g = canvas.getContext('2d');
    const step = () => {
      if (this.#analyser !== analyser) return;
      analyser.getFloatTimeDomainData(samples);
      this.#ui.level.value = Math.max(-60, measureLevel(samples).rmsDbfs);
      if (g) {
        const { width, height } = canvas;
        g.clearRect(0, 0, width, height);
        g.strokeStyle = getComputedStyle(this).color || '#333';
        g.beginPath();
        for (let x = 0; x < width; x++) {
          const y = (0.5 - samples[Math.floor((x / width) * samples.length)] / 2) * height;
          if (x === 0) g.moveTo(x, y);
          else g.lineTo(x, y);
        }
        g.stroke();
      }
      this.#frame = requestAnimationFrame(step);
    };
    this.#frame = requestAnimationFrame(step);
  }
}

/** Whether this browser can decode Opus at `sampleRate` (mono) with WebCodecs. */
async function opusDecodable(sampleRate) {
  if (typeof AudioDecoder !== 'function' || typeof EncodedAudioChunk !== 'function') return false;
  try {
    return (
      (await AudioDecoder.isConfigSupported({ codec: 'opus', sampleRate, numberOfChannels: 1 })).supported ===
      true
    );
  } catch {
    return false;
  }
}

if (!customElements.get('earshot-player')) customElements.define('earshot-player', EarshotPlayer);
