import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBystander } from '../helpers/bystander.js';
import { connectRawWs, type RawConnection } from '../helpers/raw-ws.js';
import { LISTENER_MODES } from '../helpers/server.js';
import { startServerProcess } from '../helpers/server-process.js';

/**
 * SPEC §3 with real client sockets (not a corked stand-in): a client that stops reading, or reads
 * at half the stream's rate, loses frames and is then closed with 1008 `listener too slow`, while a
 * healthy listener of the same call hears no gap. Before, the kernel's autotuned send buffer (up to
 * 4 MiB) hid the backlog: no frame was dropped and the keepalive cut the socket after 30–45 s.
 * Then the client's own receive buffer (~190 KB on loopback here, ~6 s of audio) hid it: now the
 * server also counts what the client left unread there, from the shrinking receive window it
 * advertises (`UnreadProbe`), so drops start within seconds of the stall.
 */
const STREAM_BYTES_PER_S = 50 * (640 + 4);

async function sample(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(pattern.exec(text)?.[1] ?? 0);
}
const LISTENERS = /^earshot_listeners (\d+)/m;
const DROPS = /^earshot_frames_dropped_total\{reason="listener_backlog"\} (\d+)/m;

/** Reads at `bytesPerS`: pauses after each chunk for as long as that chunk is worth at that rate. */
function readSlowly(conn: RawConnection, bytesPerS: number): void {
  conn.socket.pause();
  conn.socket.on('data', (chunk: Buffer) => {
    conn.socket.pause();
    setTimeout(() => conn.socket.resume(), (chunk.length / bytesPerS) * 1000);
  });
  conn.socket.resume();
}

describe.each(LISTENER_MODES.slice(0, 2))('stalled listeners (%s)', (_mode, env) => {
  let server: Awaited<ReturnType<typeof startServerProcess>>;
  let bystander: Awaited<ReturnType<typeof startBystander>>;
  beforeAll(async () => {
    server = await startServerProcess(env);
    bystander = await startBystander(server, server.apiKey);
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Seconds until the server first drops for the stalled listener, and until it is gone. */
  async function watch(before: number): Promise<{ firstDropS: number; goneS: number }> {
    const t0 = performance.now();
    let firstDropS = -1;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const s = (performance.now() - t0) / 1000;
      if (firstDropS < 0 && (await sample(server.url, DROPS)) > before) firstDropS = s;
      if ((await sample(server.url, LISTENERS)) === 1) return { firstDropS, goneS: s };
      if (s > 40) return { firstDropS, goneS: -1 };
    }
  }

  /** Connects a listener to the bystander's call, stalls it with `stall`, and watches the server. */
  async function stalledListener(stall: (conn: RawConnection) => void) {
    const conn = await connectRawWs(await bystander.call.listenUrl());
    await new Promise((r) => setTimeout(r, 500));
    expect(await sample(server.url, LISTENERS)).toBe(2);
    const before = await sample(server.url, DROPS);
    stall(conn);
    const seen = await watch(before);
    // The close frame follows the backlog: a client that reads again finds it (or the cut).
    conn.socket.removeAllListeners('data');
    conn.socket.resume();
    return { ...seen, closed: await conn.closed };
  }

  it('a client that stops reading loses frames, then is closed 1008 "listener too slow"', async () => {
    const { firstDropS, goneS, closed } = await stalledListener((conn) => conn.socket.pause());
    console.log(
      `stalled listener (stops reading): first drop after ${firstDropS.toFixed(1)} s, closed after ${goneS.toFixed(1)} s`,
    );
    // Its receive window first grows (the receiver's autotuning), then shrinks by every byte left
    // unread; past 60 % shut (healthy readers look up to ~40 % shut: UnreadProbe) and ~200 ms
    // more it is a backlog (drops), and 5 s of backlog closes it (SPEC §3). Issue 11's bar is 10 s
    // from the stall: 9.7–9.9 s measured, so 11 s here leaves a margin for a loaded machine.
    expect(firstDropS).toBeGreaterThan(0);
    expect(firstDropS).toBeLessThan(6);
    expect(goneS - firstDropS).toBeGreaterThan(4);
    expect(goneS).toBeLessThan(11);
    expect([1008, null]).toContain(closed);
  }, 60_000);

  it('a client that reads at half speed loses frames, then is closed too (later: it keeps catching up in bursts)', async () => {
    const { firstDropS, goneS, closed } = await stalledListener((conn) =>
      readSlowly(conn, STREAM_BYTES_PER_S / 2),
    );
    console.log(
      `stalled listener (reads at half speed): first drop after ${firstDropS.toFixed(1)} s, closed after ${goneS.toFixed(1)} s`,
    );
    // It reads in bursts (whole receive buffers, then a pause worth them), so its window keeps
    // reopening: drops start after ~9 s and the close comes 17–25 s after it slowed down (measured;
    // above issue 11's 10 s — docs/architecture.md says why).
    expect(firstDropS).toBeGreaterThan(0);
    expect(goneS).toBeGreaterThan(firstDropS + 4);
    expect(goneS).toBeLessThan(35);
    expect([1008, null]).toContain(closed);
  }, 60_000);

  it('the healthy listener of the same call heard no gap over 100 ms meanwhile', async () => {
    const report = await bystander.stop();
    expect(report.closed).toBeNull();
    expect(report.gaps, `gaps over 100 ms (max ${report.maxGapMs} ms)`).toEqual([]);
  });
});
