/**
 * The load of bench/run.mjs: the calls on the server under test, and the two generators driving
 * them — the bulk load generator (raw-socket ingest, byte-counting listeners) and the probe
 * generator (`ws` ingest with latency markers, one full-parsing listener per probe call).
 */
import { createCall, participantPath } from '../api.mjs';
import { benchFile } from '../paths.mjs';
import { Child } from '../rpc.mjs';
import { adopt } from '../teardown.mjs';

export const HOST = '127.0.0.1';

/** Forks a bench/ script as an RPC child that teardown stops. */
export const forkChild = (file, args = []) => adopt(new Child(benchFile(file), args));

/** Creates `count` calls, ten at a time. */
export async function createCalls(api, count) {
  const calls = [];
  for (let i = 0; i < count; i += 10) {
    const n = Math.min(10, count - i);
    calls.push(...(await Promise.all(Array.from({ length: n }, () => createCall(api)))));
  }
  return calls;
}

/**
 * Jitter-buffer counters (GET /v1/calls/{id}) of `calls` since they started, summed over their
 * participants, and what each participant's buffer adds now (bufferMs: one entry per participant).
 */
export async function jitterStats(api, calls) {
  const total = { framesIn: 0, framesLate: 0, framesLost: 0, bufferMs: [] };
  for (const c of calls) {
    const call = await api('GET', `/v1/calls/${encodeURIComponent(c.id)}`);
    for (const p of call.participants ?? []) {
      total.framesIn += p.frames_in ?? 0;
      total.framesLate += p.frames_late ?? 0;
      total.framesLost += p.frames_lost ?? 0;
      if (Number.isFinite(p.buffer_ms)) total.bufferMs.push(p.buffer_ms);
    }
  }
  return total;
}

/** Connects both participants of every call (μ-law 8 kHz) through the bulk load generator `lg`. */
export function ingestCalls(lg, port, calls) {
  const ingest = (c, who) => participantPath(c, who, 'mulaw', 8000);
  return lg.call('ingest', {
    host: HOST,
    port,
    sockets: calls.flatMap((c) => [
      { path: ingest(c, 'caller'), kind: 'caller' },
      { path: ingest(c, 'agent'), kind: 'agent' },
    ]),
  });
}

/**
 * Forks both generators and connects both participants of every call (μ-law 8 kHz): the first
 * `probes` calls through the probe generator, the rest through the bulk one. Ingest starts paused.
 */
export async function startLoad({ port, calls, probes }) {
  const lg1 = forkChild('load-generator.mjs');
  const lg2 = forkChild('probe-generator.mjs');
  const probeCalls = calls.slice(0, probes);
  const bulkCalls = calls.slice(probes);
  const ingest = (c, who) => participantPath(c, who, 'mulaw', 8000);
  const ing = await ingestCalls(lg1, port, bulkCalls);
  if (ing.failed) throw new Error(`ingest connect failed: ${ing.firstError}`);
  const wsBase = `ws://${HOST}:${port}`;
  await lg2.call('ingest', {
    list: probeCalls.map((c) => ({
      callerUrl: wsBase + ingest(c, 'caller'),
      agentUrl: wsBase + ingest(c, 'agent'),
      listenUrl: wsBase + c.listenPath,
    })),
  });
  return {
    lg1,
    lg2,
    probeCalls,
    bulkCalls,
    startIngest: () => Promise.all([lg1.call('ingestStart'), lg2.call('ingestStart')]),
    stopIngest: () => Promise.all([lg1.call('ingestStop'), lg2.call('ingestStop')]),
    /** Opens cheap listeners on `paths` into `group` (on `listenPort`, a baseline's, if given). */
    async listen(group, paths, listenPort = port) {
      const r = await lg1.call('listen', { host: HOST, port: listenPort, group, paths });
      if (r.failed) throw new Error(`${group}: ${r.failed} listeners failed to connect (${r.firstError})`);
      return r.opened;
    },
  };
}
