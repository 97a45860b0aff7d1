/**
 * The probe load generator (a child of bench/run.mjs), kept light so its timestamps are good:
 * for a few calls it sends both participants' ingest with the `ws` library — silence, and every
 * 500 ms one 20 ms message of a loud tone (the marker, cycling through four frequencies) — and
 * listens with one full `ws` client per call that parses every message. The added latency of a
 * marker is the arrival of the first listener message that carries it minus the time its ingest
 * message was sent, both read from this process's performance.now(). Markers are matched by
 * frequency, so a lost one (dropped by an overloaded server) is counted as lost, never paired with
 * the next; a marker not seen within 2 s (when its frequency comes round again) is lost.
 */
import WebSocket from 'ws';
import { Pacer } from './lib/pacer.mjs';
import { serveRpc } from './lib/rpc.mjs';
import {
  LISTEN_PAYLOAD_BYTES,
  markerClass,
  markerMessages,
  peakPcm16,
  silenceMessage,
} from './lib/signals.mjs';

const MARKER_EVERY_FRAMES = 25;
/** The marker peaks near 30 000 after the mix; silence is 0. */
const DETECT_PEAK = 8000;

const SILENCE = silenceMessage();
const MARKERS = markerMessages();

/** One entry per probe call. */
const calls = [];
let windowStats = newWindow();

function newWindow() {
  return {
    t0: performance.now(),
    latencies: [],
    missed: 0,
    unmatched: 0,
    badSize: 0,
    perProbe: calls.map(() => 0),
  };
}

function open(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

// One phase slot per call, spread over the 20 ms period.
let pacer;

function sendSlot(slot) {
  const call = calls[slot];
  if (!call?.caller || call.caller.readyState !== WebSocket.OPEN) return;
  const frame = call.frame++;
  const marker = (frame + slot * 3) % MARKER_EVERY_FRAMES === 0;
  let message = SILENCE;
  if (marker) {
    const c = call.markers++ % MARKERS.length;
    message = MARKERS[c];
    // The previous marker of this frequency, if still unseen, is lost.
    if (call.outstanding[c] !== undefined) windowStats.missed++;
    call.outstanding[c] = call.listener ? performance.now() : undefined;
  }
  call.caller.send(message);
  call.agent.send(SILENCE);
}

function onListenerMessage(index, data, isBinary) {
  const now = performance.now();
  if (!isBinary) return;
  const call = calls[index];
  windowStats.perProbe[index]++;
  if (data.length !== LISTEN_PAYLOAD_BYTES) windowStats.badSize++;
  const loud = peakPcm16(data) >= DETECT_PEAK;
  if (loud && !call.inMarker) {
    const c = markerClass(data);
    const sent = call.outstanding[c];
    if (sent !== undefined) {
      windowStats.latencies.push(now - sent);
      call.outstanding[c] = undefined;
    } else windowStats.unmatched++;
  }
  call.inMarker = loud;
}

serveRpc({
  /** Opens the ingest of each probe call: `list` = [{ callerUrl, agentUrl, listenUrl }]. */
  async ingest({ list }) {
    for (const c of list) {
      const caller = await open(c.callerUrl);
      const agent = await open(c.agentUrl);
      calls.push({
        ...c,
        caller,
        agent,
        listener: null,
        frame: 0,
        markers: 0,
        outstanding: [],
        inMarker: false,
      });
    }
    pacer = new Pacer({ slots: calls.length, periodMs: 20 }, sendSlot);
    return calls.length;
  },
  ingestStart() {
    pacer.start();
    return true;
  },
  ingestStop() {
    pacer.stop();
    for (const c of calls) c.outstanding.length = 0;
    return true;
  },
  /** Opens one probe listener per call. */
  async listen() {
    await Promise.all(
      calls.map(async (c, i) => {
        c.listener = await open(c.listenUrl);
        c.outstanding.length = 0;
        c.listener.on('message', (data, isBinary) => onListenerMessage(i, data, isBinary));
      }),
    );
    return calls.length;
  },
  unlisten() {
    for (const c of calls) {
      c.listener?.terminate();
      c.listener = null;
      c.outstanding.length = 0;
    }
    return true;
  },
  windowBegin() {
    windowStats = newWindow();
    pacer?.resetStats();
    return true;
  },
  windowEnd() {
    const s = windowStats;
    windowStats = newWindow();
    return {
      durationS: (performance.now() - s.t0) / 1000,
      latencies: s.latencies,
      missed: s.missed,
      unmatched: s.unmatched,
      badSize: s.badSize,
      perProbe: s.perProbe,
      probesOpen: calls.filter((c) => c.listener?.readyState === WebSocket.OPEN).length,
      senderLateMaxMs: pacer?.lateMaxMs ?? 0,
      senderSkipped: pacer?.skipped ?? 0,
    };
  },
  shutdown() {
    pacer?.stop();
    for (const c of calls) {
      c.listener?.terminate();
      c.caller.terminate();
      c.agent.terminate();
    }
  },
});
