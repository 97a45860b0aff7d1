import net from 'node:net';

/** A TCP port free on 127.0.0.1 right now (the kernel picks it; it is closed again before returning). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
