import { afterEach, describe, expect, it } from 'vitest';
import {
  type Cluster,
  clusterAvailable,
  report,
  rssBytes,
  sleep,
  startCluster,
  toneChunks,
} from '../helpers/cluster.js';
import { type ThrowawayNats, throwawayNats } from '../helpers/nats.js';
import { rmsDbfs, toneLevelDb } from '../helpers/spectrum.js';
import {
  type ThrowawayPostgres,
  throwawayPostgres,
  throwawayPostgresProblem,
} from '../helpers/throwaway-postgres.js';
import { openListener, openSocket, sendPaced, type TestListener } from '../helpers/ws-clients.js';

/**
 * Faults on a running cluster, each bounded and on loopback only. The destructive ones (NATS
 * restart, Postgres stop) use their own throwaway nats-server / Postgres, never the machine's.
 * Every figure is printed as a `[cluster figure]` line (docs/operations.md quotes them).
 */

if (throwawayPostgresProblem && process.env.CI === 'true') {
  throw new Error(`fault tests need Postgres server binaries under CI=true: ${throwawayPostgresProblem}`);
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {});
});

async function cluster(size: number, options: Parameters<typeof startCluster>[1] = {}): Promise<Cluster> {
  const c = await startCluster(size, options);
  cleanups.push(() => c.close());
  return c;
}

/** Longest time between two consecutive messages of a listener, within [fromMs, toMs] (performance.now). */
function longestGapMs(l: TestListener, fromMs = 0, toMs = Number.POSITIVE_INFINITY): number {
  let worst = 0;
  for (let i = 1; i < l.arrivals.length; i++) {
    if (l.arrivals[i] < fromMs || l.arrivals[i - 1] > toMs) continue;
    worst = Math.max(worst, l.arrivals[i] - l.arrivals[i - 1]);
  }
  return worst;
}

const sounding = (l: TestListener, i: number) => rmsDbfs(l.samples(i, i + 1)) > -50;

/** Longest run of silent messages (×20 ms) between the first and the last sounding message. */
function longestSilenceMs(l: TestListener): number {
  return longestSilence(l).ms;
}

/** The longest silent run and the arrival time (performance.now) of its first message. */
function longestSilence(l: TestListener): { ms: number; at: number } {
  const loud = l.binary.map((_, i) => sounding(l, i));
  const first = loud.indexOf(true);
  const last = loud.lastIndexOf(true);
  let worst = 0;
  let at = Number.NaN;
  let run = 0;
  for (let i = first; i <= last; i++) {
    run = loud[i] ? 0 : run + 1;
    if (run > worst) {
      worst = run;
      at = l.arrivals[i - run + 1];
    }
  }
  return { ms: worst * 20, at };
}

/** Samples of the messages that arrived within [fromMs, toMs] (performance.now). */
function samplesBetween(l: TestListener, fromMs: number, toMs: number): Int16Array {
  const from = l.arrivals.findIndex((t) => t >= fromMs);
  const to = l.arrivals.findIndex((t) => t > toMs);
  return l.samples(from, to < 0 ? l.binary.length : to);
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return false;
}

describe.skipIf(!clusterAvailable)('cluster faults', () => {
  it('kill -9 of a node mid-call: listeners elsewhere keep their stream, the call is intact, its listener reconnects elsewhere', async () => {
    const c = await cluster(3);
    const [n1, n2, n3] = c.nodes;
    const call = await c.newCall(n1);
    const url = new URL(await call.listenUrl(n1));
    const path = `${url.pathname}${url.search}`;
    const [l1, l2, l3] = await Promise.all(c.nodes.map((n) => openListener(`${n.ws}${path}`)));
    const caller = await openSocket(call.ingestUrl(n1, 'participant=caller&encoding=mulaw&sample_rate=8000'));
    const agent = await openSocket(call.ingestUrl(n2, 'participant=agent&encoding=mulaw&sample_rate=8000'));
    void sendPaced(caller, toneChunks(440, 8000, 8, 'mulaw'), 20, (x) => x);
    const agentDone = sendPaced(agent, toneChunks(1000, 8000, 5, 'mulaw'), 20, (x) => x);
    await sleep(1500);

    const killedAt = performance.now();
    await n1.stop('SIGKILL');
    const cut = await l1.closed;
    expect(cut.code).toBe(1006);
    // The customer's player reconnects with the same URL, through another node.
    const again = await openListener(`${n2.ws}${path}`);
    await until(() => again.binary.length > 0, 2000);
    const reconnectMs = again.arrivals[0] - killedAt;
    await agentDone;
    const endAt = performance.now();

    const gap2 = longestGapMs(l2, killedAt - 500, endAt);
    const gap3 = longestGapMs(l3, killedAt - 500, endAt);
    report(
      'kill -9: longest gap between messages on the surviving nodes',
      Math.max(gap2, gap3).toFixed(0),
      'ms',
    );
    report(
      "kill -9: killed node's listener reconnected to another node, first audio after",
      reconnectMs.toFixed(0),
      'ms',
    );
    expect(Math.max(gap2, gap3)).toBeLessThan(200);
    // The agent (ingested on node 2) is still heard on node 3 after the kill, alone.
    const after = samplesBetween(l3, killedAt + 500, killedAt + 2500);
    expect(toneLevelDb(after, 16000, 1000)).toBeCloseTo(-12, 0);
    expect(toneLevelDb(after, 16000, 440)).toBeLessThan(-60);

    // Call state is intact in Postgres: any surviving node reports it active; stopping it works.
    const got = await n3.request(`/v1/calls/${call.id}`, { apiKey: c.apiKey });
    expect(got.body.data.status).toBe('active');
    expect(got.body.data.participants.map((p: { name: string }) => p.name)).toEqual(['agent']);
    await n2.request(`/v1/calls/${call.id}/stop`, { method: 'POST', apiKey: c.apiKey });
    for (const l of [l2, l3, again]) expect(await l.closed).toEqual({ code: 1000, reason: 'call ended' });
  });

  it('NATS restarted: same-node audio never stops, cross-node audio resumes by itself, memory stays bounded', async () => {
    const nats: ThrowawayNats = await throwawayNats();
    cleanups.push(() => nats.stop());
    const c = await cluster(2, { natsUrl: nats.url });
    const [n1, n2] = c.nodes;
    const call = await c.newCall(n1);
    const url = new URL(await call.listenUrl(n1));
    const path = `${url.pathname}${url.search}`;
    const same = await openListener(`${n1.ws}${path}`);
    const cross = await openListener(`${n2.ws}${path}`);
    const caller = await openSocket(call.ingestUrl(n1, 'participant=caller&encoding=mulaw&sample_rate=8000'));
    const ingestDone = sendPaced(caller, toneChunks(440, 8000, 20, 'mulaw'), 20, (x) => x);
    // A second call, stopped on node 1 during the outage: node 2 cannot hear that then.
    const other = await c.newCall(n1);
    const otherUrl = new URL(await other.listenUrl(n2));
    const unheard = await openListener(`${n2.ws}${otherUrl.pathname}${otherUrl.search}`);
    // A third, whose listen URLs are revoked on node 1 during the outage.
    const third = await c.newCall(n1);
    const thirdUrl = new URL(await third.listenUrl(n2));
    const unheardRevoke = await openListener(`${n2.ws}${thirdUrl.pathname}${thirdUrl.search}`);
    await sleep(1500);
    const rssBefore = c.nodes.map((n) => rssBytes(n.pid));

    const downAt = performance.now();
    await nats.stop();
    await sleep(500);
    const readyDuring = await n1.request('/readyz');
    expect(readyDuring.status).toBe(503);
    expect(readyDuring.body.errors[0].code).toBe('SERVICE_UNAVAILABLE');
    expect(
      (await n1.request(`/v1/calls/${other.id}/stop`, { method: 'POST', apiKey: c.apiKey })).status,
    ).toBe(200);
    expect(
      (await n1.request(`/v1/calls/${third.id}/listen`, { method: 'DELETE', apiKey: c.apiKey })).status,
    ).toBe(200);
    await sleep(2500);
    await nats.start();
    const upAt = performance.now();
    const unheardClosed = unheard.closed.then((r) => ({ ...r, afterMs: performance.now() - upAt }));
    const revokedClosed = unheardRevoke.closed.then((r) => ({ ...r, afterMs: performance.now() - upAt }));
    const heardAgain = await until(() => {
      const n = cross.binary.length;
      return cross.arrivals[n - 1] > upAt && sounding(cross, n - 1);
    }, 8000);
    expect(heardAgain).toBe(true);
    const resumedMs = cross.arrivals[cross.binary.length - 1] - upAt;
    await sleep(1000);
    caller.close();
    await ingestDone;
    const rssAfter = c.nodes.map((n) => rssBytes(n.pid));
    const late = await Promise.race([unheardClosed, sleep(5000).then(() => null)]);
    expect(
      late,
      'the call stopped during the outage closes its listeners on node 2 afterwards',
    ).not.toBeNull();
    expect({ code: late?.code, reason: late?.reason }).toEqual({ code: 1000, reason: 'call ended' });
    report(
      'NATS restart: a call stopped during the outage closed its other-node listener after NATS returned',
      late?.afterMs.toFixed(0) ?? 'never',
      'ms',
    );
    const revoked = await Promise.race([revokedClosed, sleep(5000).then(() => null)]);
    expect(revoked, 'listen URLs revoked during the outage close on node 2 afterwards').not.toBeNull();
    expect({ code: revoked?.code, reason: revoked?.reason }).toEqual({ code: 4001, reason: 'revoked' });
    report(
      'NATS restart: listen URLs revoked during the outage closed their other-node listener after NATS returned',
      revoked?.afterMs.toFixed(0) ?? 'never',
      'ms',
    );

    const sameGap = longestGapMs(same, downAt - 500);
    const sameSilence = longestSilenceMs(same);
    const crossSilence = longestSilenceMs(cross);
    report('NATS restart: same-node listener, longest gap between messages', sameGap.toFixed(0), 'ms');
    report('NATS restart: same-node listener, longest silence in the tone', sameSilence, 'ms');
    report('NATS restart (3 s down): cross-node audio silent for', crossSilence, 'ms');
    report('NATS restart: cross-node audio back after NATS returned', resumedMs.toFixed(0), 'ms');
    report(
      'NATS restart: RSS before → after (node 1, node 2)',
      c.nodes
        .map((_, i) => `${(rssBefore[i] / 2 ** 20).toFixed(0)} → ${(rssAfter[i] / 2 ** 20).toFixed(0)} MiB`)
        .join(', '),
    );
    expect(sameGap).toBeLessThan(200);
    expect(sameSilence).toBeLessThanOrEqual(200);
    expect(crossSilence).toBeGreaterThan(2500);
    for (let i = 0; i < 2; i++) expect(rssAfter[i] - rssBefore[i]).toBeLessThan(64 * 2 ** 20);
    for (const n of c.nodes) {
      expect(n.child.exitCode).toBeNull();
      expect((await n.request('/readyz')).status).toBe(200);
    }
    const metrics = await (await fetch(`${n1.url}/metrics`)).text();
    expect(metrics).toMatch(/earshot_frames_dropped_total\{reason="bus_unavailable"\} [1-9]/);
  });

  it.skipIf(throwawayPostgresProblem !== null)(
    'Postgres stopped for a few seconds: the API answers 503 with the envelope, audio keeps flowing, nothing committed is lost',
    async () => {
      const pg: ThrowawayPostgres = await throwawayPostgres();
      cleanups.push(() => pg.destroy());
      const c = await cluster(2, { database: pg.database });
      const [n1, n2] = c.nodes;
      const committed = [];
      for (let i = 0; i < 5; i++) committed.push((await c.newCall(n1)).id);
      const call = await c.newCall(n2);
      const url = new URL(await call.listenUrl(n1));
      const listener = await openListener(`${n2.ws}${url.pathname}${url.search}`);
      const caller = await openSocket(
        call.ingestUrl(n1, 'participant=caller&encoding=mulaw&sample_rate=8000'),
      );
      const ingestDone = sendPaced(caller, toneChunks(440, 8000, 20, 'mulaw'), 20, (x) => x);
      await sleep(1000);

      await pg.stop();
      const downAt = performance.now();
      const t0 = performance.now();
      const get = await n2.request(`/v1/calls/${call.id}`, { apiKey: c.apiKey });
      const answeredMs = performance.now() - t0;
      expect(get.status).toBe(503);
      expect(get.body).toEqual({
        status: 'error',
        data: null,
        errors: [{ code: 'SERVICE_UNAVAILABLE', message: expect.any(String) }],
      });
      const create = await n1.request('/v1/calls', { method: 'POST', apiKey: c.apiKey, json: {} });
      expect(create.status).toBe(503);
      expect(create.body.errors[0].code).toBe('SERVICE_UNAVAILABLE');
      const ready = await n1.request('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.errors[0].message).toMatch(/database/);
      report('Postgres down: API answered 503 SERVICE_UNAVAILABLE in', answeredMs.toFixed(0), 'ms');
      await sleep(Math.max(0, 3000 - (performance.now() - downAt)));

      await pg.start();
      const upAt = performance.now();
      const recovered = await until(async () => {
        const r = await n2.request(`/v1/calls/${call.id}`, { apiKey: c.apiKey });
        return r.status === 200;
      }, 10_000);
      expect(recovered).toBe(true);
      report('Postgres back: API answering 200 again after', (performance.now() - upAt).toFixed(0), 'ms');
      await sleep(500);
      caller.close();
      await ingestDone;

      const silence = longestSilence(listener);
      report(
        'Postgres down ~3 s: longest silence heard by a cross-node listener',
        silence.ms === 0
          ? '0 ms'
          : `${silence.ms} ms (at ${(silence.at - downAt).toFixed(0)} ms from the stop)`,
      );
      // At most a dropped frame or two on a loaded machine: the audio path never waits for the database.
      expect(silence.ms).toBeLessThanOrEqual(100);
      expect(longestGapMs(listener, downAt)).toBeLessThan(200);
      // Every call committed before the outage is there, on both nodes, and new ones can be made.
      for (const n of c.nodes) {
        const listed = await n.request('/v1/calls?limit=100', { apiKey: c.apiKey });
        const ids = listed.body.data.calls.map((x: { call_id: string }) => x.call_id);
        for (const id of [...committed, call.id]) expect(ids).toContain(id);
      }
      expect((await n1.request('/v1/calls', { method: 'POST', apiKey: c.apiKey, json: {} })).status).toBe(
        200,
      );
      expect((await n2.request('/readyz')).status).toBe(200);
    },
  );

  it('SIGTERM: the node stops accepting, closes its sockets with 1001 and exits 0 within 10 s; the others carry on', async () => {
    const c = await cluster(2);
    const [n1, n2] = c.nodes;
    const call = await c.newCall(n2);
    const url = new URL(await call.listenUrl(n2));
    const path = `${url.pathname}${url.search}`;
    const local = await openListener(`${n1.ws}${path}`);
    const other = await openListener(`${n2.ws}${path}`);
    const caller = await openSocket(call.ingestUrl(n2, 'participant=caller&encoding=mulaw&sample_rate=8000'));
    const ingestDone = sendPaced(caller, toneChunks(440, 8000, 4, 'mulaw'), 20, (x) => x);
    await sleep(1000);

    const at = performance.now();
    n1.child.kill('SIGTERM');
    expect(await local.closed).toEqual({ code: 1001, reason: expect.any(String) });
    const exit = await n1.exited;
    const exitMs = performance.now() - at;
    report('SIGTERM: exit after', exitMs.toFixed(0), 'ms');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(10_000);
    await expect(fetch(`${n1.url}/healthz`)).rejects.toThrow();
    await ingestDone;
    expect(longestGapMs(other, at)).toBeLessThan(200);
    expect(longestSilenceMs(other)).toBeLessThanOrEqual(200);
    await n2.request(`/v1/calls/${call.id}/stop`, { method: 'POST', apiKey: c.apiKey });
    expect(await other.closed).toEqual({ code: 1000, reason: 'call ended' });
  });
});
