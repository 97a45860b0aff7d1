import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of `target` (an http:// URL): clients connect to `port`, and
 * `cut()` destroys every connection it carries — the network failing, with no close frame.
 */
export async function startTcpRelay(target: string): Promise<{ port: number; cut(): void; close(): void }> {
  const { hostname, port } = new URL(target);
  const relayed = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(Number(port), hostname);
    relayed.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const cut = () => {
      client.destroy();
      upstream.destroy();
      relayed.delete(client);
      relayed.delete(upstream);
    };
    client.on('error', cut).on('close', cut);
    upstream.on('error', cut).on('close', cut);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as AddressInfo).port,
    cut() {
      for (const socket of relayed) socket.destroy();
    },
    close() {
      relay.close();
    },
  };
}
