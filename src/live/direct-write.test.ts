import { once } from 'node:events';
import { createRequire } from 'node:module';
import net, { type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectFd, DirectWriteBatch, type DirectWriteTarget, UnreadProbe } from './direct-write.js';

/**
 * What went through the native addon. Every byte that the addon does not send is resent through
 * the socket (`finishWrite`), so what arrives at the peer cannot tell a working addon from a broken
 * one; the tests therefore also check what the addon itself sent. `require` caches the addon, so the
 * object loaded here is the one DirectWriteBatch calls: its `writeAll` is wrapped to record each call.
 */
interface AddonCall {
  fds: number[];
  message: string;
  /** Per descriptor: bytes the kernel took, or -errno. */
  results: number[];
  whole: number;
}
type WriteAll = (fds: Int32Array, count: number, message: Uint8Array, results: Int32Array) => number;
const addon = createRequire(import.meta.url)('../../build/Release/earshot_direct_write.node') as {
  writeAll: WriteAll;
};
const nativeWriteAll = addon.writeAll;
let addonCalls: AddonCall[] = [];
beforeEach(() => {
  addonCalls = [];
  addon.writeAll = (fds, count, message, results) => {
    const whole = nativeWriteAll(fds, count, message, results);
    addonCalls.push({
      fds: [...fds.subarray(0, count)],
      message: Buffer.from(message).toString('latin1'),
      results: [...results.subarray(0, count)],
      whole,
    });
    return whole;
  };
});
afterEach(() => {
  addon.writeAll = nativeWriteAll;
});

/** The descriptor the addon writes to for `socket`. */
const fdOf = (socket: Socket) => (socket as unknown as { _handle: { fd: number } })._handle.fd;

/**
 * `count` connected loopback pairs: the server side writes, the client side reads. With
 * `pauseOnConnect` the server side never reads, so it does not notice a reset from its peer by itself.
 */
async function socketPairs(count: number, pauseOnConnect = false) {
  const server = net.createServer({ pauseOnConnect });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const accepted: Socket[] = [];
  server.on('connection', (s) => accepted.push(s));
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    clients.push(c);
  }
  await expect.poll(() => accepted.length).toBe(count);
  const received = clients.map(() => [] as Buffer[]);
  clients.forEach((c, i) => {
    c.on('data', (d) => received[i].push(d));
  });
  const close = () => {
    for (const s of [...accepted, ...clients]) s.destroy();
    server.close();
  };
  return { writers: accepted, clients, received, close };
}

/** A target as a Listener is one: the rest goes through the socket, behind what the kernel took. */
function socketTarget(socket: Socket, log: number[] = []): DirectWriteTarget {
  return {
    finishWrite(message, written) {
      log.push(written);
      socket.write(written > 0 ? message.subarray(written) : message);
    },
  };
}

function batch(): DirectWriteBatch {
  const b = DirectWriteBatch.create('on');
  if (!b) throw new Error('unreachable: "on" returns a batch or throws');
  return b;
}

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe('DirectWriteBatch', () => {
  it('writes one message to every socket in one call, in order with writes through the socket', async () => {
    const { writers, received, close } = await socketPairs(3);
    cleanup = close;
    const b = batch();
    for (const s of writers) s.write('a');
    for (const s of writers) b.add(new DirectFd(s).get(s.writableLength), socketTarget(s));
    b.flush(Buffer.from('bc'));
    // One call ('a' left user space at once, so every socket was direct); the addon sent it whole.
    expect(addonCalls).toEqual([{ fds: writers.map(fdOf), message: 'bc', results: [2, 2, 2], whole: 3 }]);
    for (const s of writers) s.write('d');
    await expect
      .poll(() => received.map((r) => Buffer.concat(r).toString()))
      .toEqual(['abcd', 'abcd', 'abcd']);
  });

  it('queues what a full socket does not take, and every byte arrives in order', async () => {
    const { writers, clients, received, close } = await socketPairs(2);
    cleanup = close;
    const reader = clients[0];
    reader.pause(); // its kernel buffers fill up
    const b = batch();
    const log: number[] = [];
    const sent: Buffer[] = [];
    const fds = new Map(writers.map((s) => [s, new DirectFd(s)]));
    for (let i = 0; writers[0].writableLength === 0 && i < 10_000; i++) {
      const message = Buffer.alloc(16_384, i % 251);
      sent.push(message);
      for (const s of writers) {
        const fd = fds.get(s)!.get(s.writableLength);
        if (fd >= 0) b.add(fd, socketTarget(s, s === writers[0] ? log : []));
        else s.write(message);
      }
      b.flush(message);
    }
    // The kernel took part of the last message (or none of it); the rest waits in user space.
    expect(writers[0].writableLength).toBeGreaterThan(0);
    expect(log.at(-1)).toBeLessThan(16_384);
    // Every message went to writers[0] through the addon, which sent each whole but the last.
    const fd0 = fdOf(writers[0]);
    const toFirst = addonCalls.map((c) => c.results[c.fds.indexOf(fd0)]);
    expect(toFirst).toHaveLength(sent.length);
    expect(sent.length).toBeGreaterThan(1);
    expect(toFirst.slice(0, -1)).toEqual(toFirst.slice(0, -1).map(() => 16_384));
    expect(log).toEqual(toFirst.slice(-1));
    expect(fds.get(writers[0])!.get(writers[0].writableLength)).toBe(-1);
    reader.resume();
    const expected = Buffer.concat(sent);
    await expect.poll(() => Buffer.concat(received[0]).length, { timeout: 10_000 }).toBe(expected.length);
    expect(Buffer.concat(received[0]).equals(expected)).toBe(true);
    expect(Buffer.concat(received[1]).equals(expected)).toBe(true);
  });

  it('leaves a socket whose peer is gone to Node, which closes it with the error', async () => {
    // Not reading (pauseOnConnect), so Node does not see the reset first: the direct write meets it.
    const { writers, clients, close } = await socketPairs(1, true);
    cleanup = close;
    const [socket] = writers;
    const errors: Error[] = [];
    socket.on('error', (e) => errors.push(e));
    const closed = new Promise((r) => socket.once('close', r));
    clients[0].resetAndDestroy();
    await new Promise((r) => clients[0].once('close', r));
    await new Promise((r) => setTimeout(r, 50)); // the RST reaches the writer's side
    const b = batch();
    const log: number[] = [];
    const fd = new DirectFd(socket);
    const descriptor = fd.get(socket.writableLength);
    expect(descriptor).toBe(fdOf(socket)); // still open here
    b.add(descriptor, socketTarget(socket, log));
    b.flush(Buffer.alloc(100));
    expect(log).toHaveLength(1);
    expect(log[0]).toBeLessThan(0); // -errno: the kernel refused it (EPIPE or ECONNRESET, not EBADF)
    expect([-os.constants.errno.EPIPE, -os.constants.errno.ECONNRESET]).toContain(log[0]);
    expect(addonCalls).toEqual([{ fds: [descriptor], message: '\0'.repeat(100), results: log, whole: 0 }]);
    await closed;
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual([
      expect.stringMatching(/^(EPIPE|ECONNRESET)$/),
    ]);
    expect(fd.get(0)).toBe(-1);
  });

  it('gives no descriptor for a socket with bytes queued, or one that is closed', async () => {
    const { writers, close } = await socketPairs(1);
    cleanup = close;
    const [socket] = writers;
    const fd = new DirectFd(socket);
    expect(fd.get(0)).toBeGreaterThan(2);
    expect(fd.get(0)).toBe((socket as unknown as { _handle: { fd: number } })._handle.fd);
    expect(fd.get(10)).toBe(-1);
    socket.destroy();
    expect(fd.get(0)).toBe(-1);
  });

  it('is null when turned off, and without the addon under auto (told why); "on" requires it', () => {
    expect(DirectWriteBatch.create('off')).toBeNull();
    expect(DirectWriteBatch.create('auto')).toBeInstanceOf(DirectWriteBatch);
    const reasons: Error[] = [];
    expect(DirectWriteBatch.create('auto', (e) => reasons.push(e), './missing.node')).toBeNull();
    expect(reasons[0]?.message).toMatch(/missing\.node/);
    expect(() => DirectWriteBatch.create('on', undefined, './missing.node')).toThrow(
      /EARSHOT_DIRECT_WRITES=on but the native addon is not built/,
    );
  });

  it('grows past its initial capacity', async () => {
    const { writers, received, close } = await socketPairs(1);
    cleanup = close;
    const b = batch();
    const fd = new DirectFd(writers[0]).get(0);
    // The same socket 200 times: one call, 200 sends, in order.
    for (let i = 0; i < 200; i++) b.add(fd, socketTarget(writers[0]));
    b.flush(Buffer.from('x'));
    expect(addonCalls).toEqual([
      { fds: Array(200).fill(fd), message: 'x', results: Array(200).fill(1), whole: 200 },
    ]);
    await expect.poll(() => Buffer.concat(received[0]).toString()).toBe('x'.repeat(200));
  });

  it('writes runs of held frames: one buffer per run of targets holding the same frames, in order', async () => {
    const { writers, received, close } = await socketPairs(4);
    cleanup = close;
    const b = batch();
    const [x, y, z] = ['x', 'y', 'z'].map((c) => Buffer.from(c));
    const held = [[x, y], [x, y], [z], [x, y]];
    writers.forEach((s, i) => {
      b.addFrames(new DirectFd(s).get(0), socketTarget(s), held[i]);
    });
    b.flushFrames();
    const fds = writers.map(fdOf);
    expect(addonCalls).toEqual([
      { fds: [fds[0], fds[1]], message: 'xy', results: [2, 2], whole: 2 },
      { fds: [fds[2]], message: 'z', results: [1], whole: 1 },
      { fds: [fds[3]], message: 'xy', results: [2], whole: 1 },
    ]);
    await expect
      .poll(() => received.map((r) => Buffer.concat(r).toString()))
      .toEqual(['xy', 'xy', 'z', 'xy']);
  });
});

describe.runIf(os.platform() === 'linux')('UnreadProbe', () => {
  /** Writes `bytes` in 644-byte messages (one 20 ms listener message each) every 2 ms. */
  async function stream(socket: Socket, bytes: number): Promise<void> {
    for (let sent = 0; sent < bytes; sent += 644) {
      socket.write(Buffer.alloc(644));
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  it('sees nothing unread for a client that reads, and what a client that stopped reading left in its receive buffer', async () => {
    const { writers, clients, close } = await socketPairs(2);
    try {
      const probes = writers.map(() => new UnreadProbe());
      const fds = writers.map((w) => new DirectFd(w).get(0));
      expect(probes.map((p, i) => p.measure(fds[i]))).toEqual([0, 0]);
      clients[1].pause(); // stops reading: what arrives stays in its kernel receive buffer
      const seen: number[][] = [];
      for (let round = 0; round < 10; round++) {
        await Promise.all(writers.map((w) => stream(w, 32 * 1024)));
        seen.push(probes.map((p, i) => p.measure(fds[i])));
      }
      // The reader never looks behind by more than the slack allows; the stalled one, by about
      // what it was sent once its window stopped growing (320 KB in all, its buffer ~100–200 KB).
      expect(Math.max(...seen.map(([reading]) => reading))).toBe(0);
      expect(seen.at(-1)?.[1]).toBeGreaterThan(32 * 1024);
    } finally {
      close();
    }
  });

  it('is 0 without a descriptor', () => {
    expect(new UnreadProbe().measure(-1)).toBe(0);
  });
});
