import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { MAX_SOCKETS_PER_RECORD, SocketPassing } from './socket-passing.js';

const passing = SocketPassing.load();

describe.runIf(os.platform() === 'linux' && passing !== null)('SocketPassing', () => {
  const p = passing as SocketPassing;

  /** `count` connected TCP pairs on loopback: [server-side sockets, client sockets]. */
  async function tcpPairs(count: number) {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted: net.Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    const clients = await Promise.all(
      Array.from({ length: count }, async () => {
        const c = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
        await once(c, 'connect');
        return c;
      }),
    );
    await expect.poll(() => accepted.length).toBe(count);
    return { server, accepted, clients };
  }

  it('passes a batch of live TCP sockets in one record, in order, each usable on the other side', async () => {
    const pair = p.pair();
    expect(Array.isArray(pair)).toBe(true);
    const [mine, theirs] = pair as [number, number];
    const { server, accepted, clients } = await tcpPairs(3);
    try {
      const fds = accepted.map((s) => (s as unknown as { _handle: { fd: number } })._handle.fd);
      expect(p.send(mine, fds)).toBe(0);
      // This side lets go of its copies; the connections stay open through the passed ones.
      for (const s of accepted) s.destroy();
      const received = p.receive(theirs);
      expect(Array.isArray(received) && received.length).toBe(3);
      const sockets = (received as number[]).map(
        (fd) => new net.Socket({ fd, readable: true, writable: true }),
      );
      const heard = clients.map((c) => once(c, 'data'));
      sockets.forEach((s, i) => {
        s.write(`hello ${i}`);
      });
      expect((await Promise.all(heard)).map(([d]) => String(d))).toEqual(['hello 0', 'hello 1', 'hello 2']);
      for (const s of sockets) s.destroy();
    } finally {
      for (const c of clients) c.destroy();
      server.close();
      p.close(mine);
      p.close(theirs);
    }
  });

  it('reports an empty pair as EAGAIN rather than blocking, and refuses an oversized batch', () => {
    const [mine, theirs] = p.pair() as [number, number];
    try {
      expect(p.receive(theirs)).toBe(os.constants.errno.EAGAIN);
      expect(() =>
        p.send(
          mine,
          Array.from({ length: MAX_SOCKETS_PER_RECORD + 1 }, () => 0),
        ),
      ).toThrow(/1\.\.250/);
    } finally {
      p.close(mine);
      p.close(theirs);
    }
  });
});
