// earshot console: API key, the live list of active calls, and the listening panel.
// Uses only the public API (GET /v1/calls, POST /v1/calls/{id}/listen) and the listen WebSocket.

import { ApiError, callApi, describeClose } from './api.js';
import { INPUT_RATE, measureLevel } from './audio-graph.js';
import './player.js';

const KEY_STORAGE = 'earshot.apiKey';
const POLL_MS = 2000;
const MAX_EVENTS = 8;

const $ = (id) => document.getElementById(id);
const el = {
  keyForm: $('key-form'),
  keyInput: $('api-key'),
  forgetKey: $('forget-key'),
  callsStatus: $('calls-status'),
  callsError: $('calls-error'),
  callsTable: $('calls-table'),
  callsBody: $('calls-body'),
  noCalls: $('no-calls'),
  connDot: $('conn-dot'),
  connState: $('conn-state'),
  listenError: $('listen-error'),
  playerCall: $('player-call'),
  playerFormat: $('player-format'),
  waveform: $('waveform'),
  levelMeter: $('level-meter'),
  levelText: $('level-text'),
  droppedTotal: $('dropped-total'),
  statUnderruns: $('stat-underruns'),
  statOverflow: $('stat-overflow'),
  statGaps: $('stat-gaps'),
  statBuffer: $('stat-buffer'),
  statPlayed: $('stat-played'),
  statDrift: $('stat-drift'),
  stop: $('stop'),
  events: $('events'),
  speaking: $('speaking'),
};
/** The same <earshot-player> any page can embed (player.js): it plays; the console shows around it. */
const player = $('player');

/** State the page exposes for tests and debugging (read-only by convention). */
const probe = {
  keySet: false,
  polls: 0,
  calls: [],
  errors: { calls: '', listen: '' },
  connection: { state: 'idle', callId: null, code: null, reason: '' },
  audio: null,
  gaps: { count: 0, ms: 0 },
  level: { rmsDbfs: -120, peakDbfs: -120, maxRmsDbfs: -120 },
  /** Who is speaking now, and everyone heard speaking since Listen (the stream's `speaking` events). */
  speaking: { now: [], heard: [] },
};
window.__earshot = probe;

let apiKey = sessionStorage.getItem(KEY_STORAGE) ?? '';
let pollTimer = null;
let pollGeneration = 0;
let serverClockOffsetMs = 0;
let listeningTo = null;
const rows = new Map(); // call_id → { tr, cells… }

// ---------------------------------------------------------------- API key

el.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = el.keyInput.value.trim();
  if (!key) return;
  apiKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
  el.keyInput.value = '';
  keyChanged();
});

el.forgetKey.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORAGE);
  apiKey = '';
  stopListening();
  keyChanged();
  el.keyInput.focus();
});

function keyChanged() {
  probe.keySet = apiKey !== '';
  el.forgetKey.hidden = !probe.keySet;
  el.keyInput.placeholder = probe.keySet ? `key ${apiKey.slice(0, 12)}… in use` : 'esk_…';
  clearRows();
  showCallsError('');
  showListenError('');
  el.callsStatus.textContent = probe.keySet ? 'Loading…' : 'Enter an API key to see calls.';
  schedulePoll(0);
}

// ---------------------------------------------------------------- active calls

function schedulePoll(delayMs) {
  clearTimeout(pollTimer);
  pollTimer = null;
  pollGeneration++;
  if (!apiKey) return;
  const generation = pollGeneration;
  pollTimer = setTimeout(() => poll(generation), delayMs);
}

async function poll(generation) {
  let nextMs = POLL_MS;
  try {
    const { data, serverDate } = await callApi('v1/calls?status=active&limit=100', apiKey);
    if (generation !== pollGeneration) return;
    noteServerClock(serverDate);
    renderCalls(data.calls);
    showCallsError('');
    el.callsStatus.textContent = `${data.calls.length} active · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    if (generation !== pollGeneration) return;
    const error = err instanceof ApiError ? err : new ApiError(0, 'UNKNOWN', String(err));
    showCallsError(error.message);
    if (error.status === 401) {
      el.callsStatus.textContent = 'Not updating.';
      clearRows();
      return; // no point asking again with the same key
    }
    el.callsStatus.textContent = 'Retrying…';
    if (error.retryAfterS) nextMs = error.retryAfterS * 1000;
  } finally {
    probe.polls++;
  }
  if (generation === pollGeneration) schedulePoll(nextMs);
}

/** Durations are counted on the server's clock when this machine's clock is clearly off. */
function noteServerClock(serverDate) {
  const server = Date.parse(serverDate ?? '');
  if (Number.isNaN(server)) return;
  const offset = server - Date.now();
  serverClockOffsetMs = Math.abs(offset) > 2000 ? offset : 0;
}

function renderCalls(calls) {
  probe.calls = calls.map((c) => c.call_id);
  const seen = new Set();
  let previous = null;
  for (const call of calls) {
    seen.add(call.call_id);
    let row = rows.get(call.call_id);
    if (!row) {
      row = createRow(call);
      rows.set(call.call_id, row);
    }
    updateRow(row, call);
    // Keep the server's order (newest first) without re-creating rows (focus stays put).
    const expectedNext = previous ? previous.tr.nextSibling : el.callsBody.firstChild;
    if (expectedNext !== row.tr) el.callsBody.insertBefore(row.tr, expectedNext);
    previous = row;
  }
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.tr.remove();
      rows.delete(id);
    }
  }
  el.callsTable.hidden = calls.length === 0;
  el.noCalls.hidden = calls.length !== 0;
  updateDurations();
}

function createRow(call) {
  const tr = document.createElement('tr');
  tr.dataset.callId = call.call_id;
  const idCell = document.createElement('td');
  const code = document.createElement('code');
  code.textContent = call.call_id;
  const route = document.createElement('div');
  route.className = 'muted small';
  idCell.append(code, route);
  const participants = document.createElement('td');
  const listeners = document.createElement('td');
  listeners.className = 'num';
  const duration = document.createElement('td');
  duration.className = 'num duration';
  const action = document.createElement('td');
  const button = document.createElement('button');
  button.type = 'button';
  button.setAttribute('aria-label', `Listen to call ${call.call_id}`);
  button.addEventListener('click', () => startListening(call.call_id));
  action.append(button);
  tr.append(idCell, participants, listeners, duration, action);
  return { tr, route, participants, listeners, duration, button, createdAt: Date.parse(call.created_at) };
}

function updateRow(row, call) {
  row.route.textContent = call.from || call.to ? `${call.from ?? '?'} → ${call.to ?? '?'}` : '';
  const list = document.createElement('ul');
  list.className = 'participants';
  if (call.participants.length === 0) {
    const li = document.createElement('li');
    li.className = 'muted';
    li.textContent = 'none yet';
    list.append(li);
  }
  for (const p of call.participants) {
    const li = document.createElement('li');
    const dot = document.createElement('span');
    dot.className = `dot ${p.connected ? 'on' : 'off'}`;
    dot.setAttribute('aria-hidden', 'true');
    li.append(dot, `${p.name} `);
    const state = document.createElement('span');
    state.className = 'muted small';
    state.textContent = p.connected ? 'connected' : 'disconnected';
    li.append(state);
    // While someone listens: what its jitter buffer adds to what they hear (buffer_ms).
    if (p.connected && p.buffer_ms > 0) {
      const delay = document.createElement('span');
      delay.className = 'muted small delay';
      delay.textContent = `${p.buffer_ms} ms delay`;
      delay.title = 'What this participant’s jitter buffer adds to what listeners hear now';
      li.append(' ', delay);
    }
    list.append(li);
  }
  row.participants.replaceChildren(list);
  row.listeners.textContent = String(call.listeners);
  const active = listeningTo === call.call_id;
  row.button.textContent = active ? 'Listening' : 'Listen';
  row.button.disabled = active;
}

function clearRows() {
  rows.clear();
  el.callsBody.replaceChildren();
  el.callsTable.hidden = true;
  el.noCalls.hidden = true;
  probe.calls = [];
}

function updateDurations() {
  const now = Date.now() + serverClockOffsetMs;
  for (const row of rows.values()) row.duration.textContent = formatDuration(now - row.createdAt);
}

function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

setInterval(updateDurations, 1000);

// ---------------------------------------------------------------- listening

function startListening(callId) {
  // The clicked button is disabled while its call plays: keep keyboard focus on the player's Stop.
  const focusInList = el.callsBody.contains(document.activeElement);
  player.stop();
  showListenError('');
  resetPlayerView(callId);
  setConnection('connecting', 'Connecting…');
  if (focusInList) el.stop.focus();
  // The player mints its URL (and a fresh one to reconnect) through the public API, like any page.
  player.urlProvider = async () => {
    try {
      const { data } = await callApi(`v1/calls/${encodeURIComponent(callId)}/listen`, apiKey, 'POST');
      return data.url;
    } catch (err) {
      throw new Error(err instanceof ApiError ? err.message : String(err?.message ?? err));
    }
  };
  // Called in the click: the AudioContext may only start on a user gesture.
  void player.play();
}

function stopListening() {
  player.stop();
}

el.stop.addEventListener('click', stopListening);
player.addEventListener('statechange', (event) => onConnectionState(event.detail));
player.addEventListener('streamevent', (event) => onStreamEvent(event.detail));

function resetPlayerView(callId) {
  listeningTo = callId;
  probe.connection = { state: 'connecting', callId, code: null, reason: '' };
  probe.gaps = { count: 0, ms: 0 };
  probe.level = { rmsDbfs: -120, peakDbfs: -120, maxRmsDbfs: -120 };
  probe.speaking = { now: [], heard: [] };
  probe.audio = null;
  lastStats = null;
  el.speaking.textContent = '—';
  el.playerCall.textContent = callId;
  el.playerFormat.textContent = '';
  el.events.replaceChildren();
  onStats(null);
  refreshButtons();
}

function onConnectionState({ state, code, reason, byUser }) {
  if (listeningTo === null) return;
  const shown = state === 'error' ? 'ended' : state;
  probe.connection = { ...probe.connection, state: shown, code: code ?? null, reason: reason ?? '' };
  if (state === 'connecting') setConnection('connecting', 'Connecting…');
  else if (state === 'reconnecting') {
    setConnection('connecting', 'Reconnecting…');
    addEvent(`${describeClose(code, reason, false)} Reconnecting…`);
  } else if (state === 'live') {
    setConnection('live', 'Live');
    el.stop.disabled = false;
    probe.audio = {
      ...probe.audio,
      contextState: player.audio?.state,
      contextRate: player.audio?.sampleRate,
    };
    el.playerFormat.textContent = `· 16 kHz PCM → ${(player.audio?.sampleRate ?? 0) / 1000} kHz output`;
    addEvent('Connected');
  } else if (state === 'ended' || state === 'error') {
    const focusOnStop = document.activeElement === el.stop;
    if (state === 'error') {
      setConnection('ended', 'Not listening');
      showListenError(reason);
      addEvent(reason);
    } else {
      const codeText = code ? ` · ${code}${reason ? ` ${reason}` : ''}` : '';
      setConnection('ended', `Ended${codeText}`);
      addEvent(describeClose(code, reason, byUser));
      if (!byUser && code !== 1000) showListenError(describeClose(code, reason, byUser));
    }
    el.stop.disabled = true;
    const callId = listeningTo;
    listeningTo = null;
    refreshButtons();
    if (focusOnStop) (rows.get(callId)?.button ?? el.keyInput).focus();
  }
}

function setConnection(kind, text) {
  el.connDot.className = `dot ${kind}`;
  el.connState.textContent = text;
  el.stop.disabled = kind === 'ended' || kind === 'idle';
}

function refreshButtons() {
  for (const [id, row] of rows) {
    row.button.textContent = id === listeningTo ? 'Listening' : 'Listen';
    row.button.disabled = id === listeningTo;
  }
}

function onStats(stats) {
  if (stats) probe.audio = { ...probe.audio, ...stats, contextState: player.audio?.state ?? 'closed' };
  const s = stats ?? { underruns: 0, lateFrames: 0, overflowDrops: 0, droppedSamples: 0, contextRate: 1 };
  const lateMs = (s.lateFrames * 1000) / s.contextRate;
  const overflowMs = (s.droppedSamples * 1000) / INPUT_RATE;
  el.statUnderruns.textContent = `${s.underruns} × · ${formatMs(lateMs)} of silence`;
  el.statOverflow.textContent = `${s.overflowDrops} × · ${formatMs(overflowMs)}`;
  el.statGaps.textContent = `${probe.gaps.count} × · ${formatMs(probe.gaps.ms)}`;
  el.droppedTotal.textContent = formatMs(lateMs + overflowMs + probe.gaps.ms);
  el.droppedTotal.classList.toggle('warn', lateMs + overflowMs + probe.gaps.ms > 0);
  el.statBuffer.textContent = stats
    ? `${Math.round(stats.bufferedMs)} ms (target ${stats.targetMs} ms)`
    : '—';
  el.statPlayed.textContent = stats ? `${(stats.playedSamples / INPUT_RATE).toFixed(1)} s` : '—';
  el.statDrift.textContent = stats ? `${stats.rateAdjustPpm >= 0 ? '+' : ''}${stats.rateAdjustPpm} ppm` : '—';
}

function onStreamEvent(event) {
  if (event.type === 'gap') {
    probe.gaps.count++;
    probe.gaps.ms += Number(event.ms) || 0;
    addEvent(`Server dropped ${event.ms} ms (this connection fell behind)`);
  } else if (event.type === 'participant') {
    addEvent(`${event.name} ${event.state}`);
    if (event.state === 'left') setSpeaking(event.name, false);
  } else if (event.type === 'speaking') {
    setSpeaking(event.name, event.state === 'start');
  }
}

function setSpeaking(name, speaking) {
  const now = new Set(probe.speaking.now);
  if (speaking) now.add(name);
  else now.delete(name);
  probe.speaking.now = [...now];
  if (speaking && !probe.speaking.heard.includes(name)) probe.speaking.heard.push(name);
  el.speaking.textContent = probe.speaking.now.length > 0 ? probe.speaking.now.join(', ') : '—';
}

function addEvent(text) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  li.append(time, ` ${text}`);
  el.events.prepend(li);
  while (el.events.children.length > MAX_EVENTS) el.events.lastChild.remove();
}

function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

// Alerts are announced when their text changes: set it only when it does.
function showCallsError(text) {
  probe.errors.calls = text;
  if (el.callsError.textContent !== text) el.callsError.textContent = text;
}

function showListenError(text) {
  probe.errors.listen = text;
  if (el.listenError.textContent !== text) el.listenError.textContent = text;
}

// ---------------------------------------------------------------- waveform and level meter

const canvas = el.waveform;
const g = canvas.getContext('2d');
let samples = new Float32Array(2048);
let lastStats = null;

function draw() {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * dpr);
  const height = Math.round(canvas.clientHeight * dpr);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const styles = getComputedStyle(canvas);
  g.clearRect(0, 0, width, height);
  g.strokeStyle = styles.getPropertyValue('--grid').trim() || '#ccc';
  g.lineWidth = 1;
  g.beginPath();
  g.moveTo(0, height / 2);
  g.lineTo(width, height / 2);
  g.stroke();

  if (player.stats && player.stats !== lastStats) {
    lastStats = player.stats;
    if (listeningTo !== null) onStats(lastStats);
  }
  const analyser = player.analyser;
  if (analyser && probe.connection.state === 'live') {
    if (samples.length !== analyser.fftSize) samples = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(samples);
    g.strokeStyle = styles.getPropertyValue('--wave').trim() || '#0a6';
    g.lineWidth = 1.5 * dpr;
    g.beginPath();
    for (let i = 0; i < samples.length; i++) {
      const x = (i / (samples.length - 1)) * width;
      const y = (0.5 - samples[i] * 0.48) * height;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    }
    g.stroke();
    const { rmsDbfs, peakDbfs } = measureLevel(samples);
    probe.level.rmsDbfs = rmsDbfs;
    probe.level.peakDbfs = peakDbfs;
    probe.level.maxRmsDbfs = Math.max(probe.level.maxRmsDbfs, rmsDbfs);
    el.levelMeter.value = Math.max(-60, rmsDbfs);
    el.levelText.textContent =
      rmsDbfs > -100 ? `${rmsDbfs.toFixed(1)} dBFS (peak ${peakDbfs.toFixed(1)})` : 'silence';
  } else {
    el.levelMeter.value = -60;
    el.levelText.textContent = '— dBFS';
  }
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);

// ---------------------------------------------------------------- start

onStats(null);
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && apiKey) schedulePoll(0);
});
keyChanged();
