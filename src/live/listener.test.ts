import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { DirectWriteBatch } from './direct-write.js';
import { Listener, sendToAll } from './listener.js';
import type { ListenerFormat } from './listener-options.js';
import { allocBinaryFrame } from './ws-frame.js';

const FORMAT = { sampleRateHz: 16000, encoding: 'pcm16', channels: 1, frameMs: 20, events: false } as const;

/** A Listener over a real server-side WebSocket on loopback, and the client's received messages. */
async function connectedListener(maxBacklogBytes: number, format: ListenerFormat = FORMAT) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  const serverSide = new Promise<WebSocket>((r) => wss.once('connection', r));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const received: Buffer[] = [];
  const text: unknown[] = [];
  /** Both kinds in arrival order: the first payload byte of a binary message, or the text. */
  const arrivals: (number | string)[] = [];
  client.on('message', (data, isBinary) => {
    if (isBinary) received.push(data as Buffer);
    else text.push(JSON.parse(String(data)));
    arrivals.push(isBinary ? (data as Buffer)[0] : String(data));
  });
  const [ws] = await Promise.all([serverSide, new Promise((r) => client.once('open', r))]);
  const listener = new Listener(ws, format, { maxBacklogBytes, evictAfterMs: 5000 });
  const close = () => {
    client.terminate();
    wss.close();
  };
  return { listener, ws, received, text, arrivals, close };
}

function message(fill: number): Buffer {
  const { frame, payloadOffset } = allocBinaryFrame(640);
  frame.fill(fill, payloadOffset);
  return frame;
}

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe('Listener cork (catch-up bursts)', () => {
  it('holds a burst without counting it as backlog, then hands it to the kernel in one writev', async () => {
    const { listener, ws, received, close } = await connectedListener(1000);
    cleanup = close;
    const socket = (ws as unknown as { _socket: Socket })._socket;
    const writev = socket._writev?.bind(socket);
    if (!writev) throw new Error('net.Socket has no _writev');
    const batches: number[] = [];
    socket._writev = (chunks, cb) => {
      batches.push(chunks.length);
      writev(chunks, cb);
    };
    listener.cork();
    // 5 × 646 bytes held: over the 1000-byte backlog limit, yet nothing is dropped.
    const results = [1, 2, 3, 4, 5].map((i) => listener.send(message(i), 0));
    expect(results).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
    expect(received).toHaveLength(0);
    listener.uncork();
    expect(batches).toEqual([5]);
    await expect.poll(() => received.length).toBe(5);
    expect(received.map((m) => m[0])).toEqual([1, 2, 3, 4, 5]);
  });

  it('still drops for a listener whose backlog predates the burst', async () => {
    const { listener, ws, close } = await connectedListener(1000);
    cleanup = close;
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.cork(); // stands in for a kernel buffer that is full: 2 messages stay in user space
    listener.send(message(1), 0);
    listener.send(message(2), 0);
    listener.cork();
    expect(listener.send(message(3), 0)).toBe('dropped');
    listener.uncork();
    socket.uncork();
  });

  it('uncorks on close, so the close frame is not held back', async () => {
    const { listener, ws, close } = await connectedListener(100_000);
    cleanup = close;
    listener.cork();
    listener.send(message(1), 0);
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    listener.close(1000, 'call ended');
    expect(await closed).toBe(1000);
  });
});

describe('Listener backlog (SPEC §3)', () => {
  /** Holds the listener's writes in user space, as a socket whose kernel buffers are full would. */
  const backlogged = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;

  it('drops past the backlog limit, then tells an events=1 listener the gap before the next message', async () => {
    const { listener, ws, received, text, close } = await connectedListener(1000, {
      ...FORMAT,
      events: true,
    });
    cleanup = close;
    const socket = backlogged(ws);
    socket.cork();
    expect(listener.send(message(1), 0)).toBe('sent');
    expect(listener.send(message(2), 20)).toBe('sent');
    // 2 × 646 bytes waiting: over the limit, so the next three messages (60 ms) are lost.
    expect([3, 4, 5].map((i) => listener.send(message(i), 20 * i))).toEqual([
      'dropped',
      'dropped',
      'dropped',
    ]);
    socket.uncork(); // the listener catches up
    await expect.poll(() => received.length).toBe(2);
    expect(listener.send(message(6), 120)).toBe('sent');
    await expect.poll(() => received.length).toBe(3);
    expect(text).toEqual([{ type: 'gap', ms: 60 }]);
    expect(received.map((m) => m[0])).toEqual([1, 2, 6]);
  });

  it('sends no gap event to a listener that did not ask for events', async () => {
    const { listener, ws, received, text, close } = await connectedListener(1000);
    cleanup = close;
    const socket = backlogged(ws);
    socket.cork();
    listener.send(message(1), 0);
    listener.send(message(2), 20);
    expect(listener.send(message(3), 40)).toBe('dropped');
    socket.uncork();
    expect(listener.send(message(4), 60)).toBe('sent');
    await expect.poll(() => received.length).toBe(3);
    expect(text).toEqual([]);
  });

  it('counts a listener that is behind again and again as continuously behind: dips under 3 s do not restart the 5 s', async () => {
    const { listener, ws, close } = await connectedListener(1000);
    cleanup = close;
    const socket = backlogged(ws);
    // Behind, then a dip (it read something) every 600 ms: a half-speed reader.
    const results: string[] = [];
    for (let t = 1000; t <= 8000; t += 100) {
      if (t % 600 === 0) socket.uncork();
      else socket.cork();
      results.push(listener.send(message(t), t));
      if (listener.closed) break;
    }
    expect(results.at(-1)).toBe('evicted');
    expect(results.filter((r) => r === 'evicted')).toHaveLength(1);
  });

  it('starts the 5 s over once the listener stayed under the threshold for 3 s', async () => {
    const { listener, ws, close } = await connectedListener(1000);
    cleanup = close;
    const socket = backlogged(ws);
    socket.cork();
    listener.send(message(1), 0);
    listener.send(message(2), 0);
    expect(listener.send(message(3), 1000)).toBe('dropped');
    socket.uncork();
    expect(listener.send(message(4), 4000)).toBe('sent');
    expect(listener.send(message(4), 7000)).toBe('sent');
    socket.cork();
    listener.send(message(5), 8400);
    listener.send(message(6), 8450);
    expect(listener.send(message(7), 8500)).toBe('dropped');
    expect(listener.send(message(8), 13_000)).toBe('dropped');
    expect(listener.send(message(9), 13_500)).toBe('evicted');
  });

  it('closes a listener 5 s after it fell behind even in a dip shorter than 3 s', async () => {
    const { listener, ws, close } = await connectedListener(1000);
    cleanup = close;
    const socket = backlogged(ws);
    socket.cork();
    listener.send(message(1), 0);
    listener.send(message(2), 0);
    expect(listener.send(message(3), 1000)).toBe('dropped');
    socket.uncork(); // it read what it had: not behind for now
    expect(listener.send(message(4), 5500)).toBe('sent');
    expect(listener.send(message(5), 6000)).toBe('evicted');
  });

  it('closes with 1008 "listener too slow" after 5 s of continuous backlog', async () => {
    const { listener, ws, close } = await connectedListener(1000);
    cleanup = close;
    backlogged(ws).cork();
    listener.send(message(1), 0);
    listener.send(message(2), 0);
    expect(listener.send(message(3), 1000)).toBe('dropped');
    expect(listener.send(message(4), 5999)).toBe('dropped');
    expect(listener.send(message(5), 6000)).toBe('evicted');
    expect(listener.closed).toBe(true);
  });
});

describe('Listener direct writes (live/direct-write.ts)', () => {
  const socketOf = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket;
  const newBatch = () => DirectWriteBatch.create('on')!;
  /** Records every chunk that goes through `socket.write` (not through the addon). */
  const recordWrites = (socket: Socket, record: (chunk: Buffer) => void) => {
    const write = socket.write.bind(socket);
    socket.write = ((chunk: Buffer, ...rest: never[]) => {
      record(chunk);
      return write(chunk, ...rest);
    }) as typeof socket.write;
  };

  it('goes through the batch when nothing is queued, and behind queued bytes otherwise', async () => {
    const { listener, ws, received, close } = await connectedListener(100_000);
    cleanup = close;
    const batch = newBatch();
    const socket = socketOf(ws);
    const counts = { sent: 0, dropped: 0, evicted: 0 };
    const writes: number[] = [];
    recordWrites(socket, (chunk) => writes.push(chunk[chunk.length - 1]));
    sendToAll([listener], message(1), 0, counts, batch); // direct: not through socket.write
    expect(writes).toEqual([]);
    socket.cork(); // as if the kernel's buffers were full: what goes through the socket stays queued
    sendToAll([listener], message(2), 20, counts);
    sendToAll([listener], message(3), 40, counts, batch);
    expect(writes).toEqual([2, 3]);
    socket.uncork();
    await expect.poll(() => received.length).toBe(3);
    expect(received.map((m) => m[0])).toEqual([1, 2, 3]);
    expect(counts).toEqual({ sent: 3, dropped: 0, evicted: 0 });
  });

  it('sends the gap event before the next message written directly', async () => {
    const { listener, ws, arrivals, close } = await connectedListener(1000, { ...FORMAT, events: true });
    cleanup = close;
    const batch = newBatch();
    const socket = socketOf(ws);
    const counts = { sent: 0, dropped: 0, evicted: 0 };
    socket.cork();
    for (const [i, t] of [1, 2, 3, 4].entries())
      sendToAll([listener], message(t), 20 * i, counts, i === 0 ? null : batch);
    expect(counts).toEqual({ sent: 2, dropped: 2, evicted: 0 });
    socket.uncork();
    await expect.poll(() => arrivals.length).toBe(2);
    sendToAll([listener], message(5), 100, counts, batch);
    await expect.poll(() => arrivals.length).toBe(4);
    expect(arrivals).toEqual([1, 2, JSON.stringify({ type: 'gap', ms: 40 }), 5]);
  });

  it('writes a held burst in one send, its buffer shared by the listeners that held the same ticks', async () => {
    const pairs = await Promise.all([1, 2, 3].map(() => connectedListener(1000)));
    cleanup = () => {
      for (const p of pairs) p.close();
    };
    const batch = newBatch();
    const counts = { sent: 0, dropped: 0, evicted: 0 };
    const concat = Buffer.concat;
    const concatenated: number[] = [];
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      concatenated.push(list.length);
      return concat(list, total);
    }) as typeof Buffer.concat;
    const throughSockets: number[] = [];
    for (const { ws } of pairs)
      recordWrites(socketOf(ws), (chunk) => throughSockets.push(chunk[chunk.length - 1]));
    const [a, b, c] = pairs.map((p) => p.listener);
    a.cork();
    b.cork();
    sendToAll([a, b], message(1), 0, counts, batch);
    c.cork(); // joined a tick later: holds other ticks, so it gets a buffer of its own
    for (const t of [2, 3]) sendToAll([a, b, c], message(t), 20 * t, counts, batch);
    try {
      for (const l of [a, b, c]) l.uncork(batch);
      batch.flushFrames();
    } finally {
      Buffer.concat = concat;
    }
    expect(concatenated).toEqual([3, 2]);
    expect(throughSockets).toEqual([]);
    expect(counts).toEqual({ sent: 8, dropped: 0, evicted: 0 });
    for (const [i, p] of pairs.entries()) {
      const expected = i === 2 ? [2, 3] : [1, 2, 3];
      await expect.poll(() => p.received.map((m) => m[0])).toEqual(expected);
    }
  });

  it('keeps held audio ahead of an event sent meanwhile', async () => {
    const { listener, arrivals, close } = await connectedListener(100_000, { ...FORMAT, events: true });
    cleanup = close;
    const batch = newBatch();
    const counts = { sent: 0, dropped: 0, evicted: 0 };
    listener.cork();
    sendToAll([listener], message(1), 0, counts, batch);
    listener.sendEvent({ type: 'participant_joined', participant: 'agent' });
    sendToAll([listener], message(2), 20, counts, batch);
    listener.uncork(batch);
    batch.flushFrames();
    await expect.poll(() => arrivals.length).toBe(3);
    expect(arrivals).toEqual([1, JSON.stringify({ type: 'participant_joined', participant: 'agent' }), 2]);
  });

  it('writes nothing held to a listener whose peer closed meanwhile', async () => {
    const { listener, ws, received, close } = await connectedListener(100_000);
    cleanup = close;
    const batch = newBatch();
    const counts = { sent: 0, dropped: 0, evicted: 0 };
    listener.cork();
    sendToAll([listener], message(1), 0, counts, batch);
    const socket = socketOf(ws);
    const written: number[] = [];
    recordWrites(socket, (chunk) => written.push(chunk.length));
    const direct: number[] = [];
    const addFrames = batch.addFrames.bind(batch);
    batch.addFrames = (fd, target, frames) => {
      direct.push(frames.length);
      addFrames(fd, target, frames);
    };
    ws.close(1000, 'bye'); // ws writes its close frame: nothing may follow it
    listener.uncork(batch);
    batch.flushFrames();
    expect(direct).toEqual([]);
    expect(written.reduce((sum, n) => sum + n, 0)).toBe(7); // the close frame only: 2 + 2 + 'bye'
    expect(received).toHaveLength(0);
  });
});
