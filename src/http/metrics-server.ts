import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError } from '../domain/app-error.js';
import type { AuthFailureLimiter } from '../edge/auth-failures.js';
import { tokenCheck } from '../edge/credentials.js';
import { failure } from '../edge/envelope.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * `EARSHOT_METRICS_LISTEN=host:port`: /metrics on an address of its own (e.g. a private interface
 * that only Prometheus reaches), and not on the public port. A plain `node:http` server with one
 * route; `EARSHOT_METRICS_TOKEN` and the failed-authentication limit apply here too.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  metrics: Metrics;
  token: string | null;
  authFailures: AuthFailureLimiter;
}): Promise<{ url: string; close(): Promise<void> }> {
  const { metrics, token, authFailures } = options;
  const checkToken = token === null ? null : tokenCheck(token, 'metrics token');
  const fail = (res: ServerResponse, error: AppError) => {
    res.writeHead(error.status, { 'content-type': 'application/json; charset=utf-8', ...error.headers });
    res.end(JSON.stringify(failure(error.code, error.message)));
  };
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD'))
      return fail(res, new AppError('NOT_FOUND', 'Only GET /metrics is served here'));
    const address = req.socket.remoteAddress ?? '';
    if (checkToken !== null)
      await authFailures.guard(address, async () => checkToken(req.headers.authorization));
    const text = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
  const server = createServer((req, res) => {
    serve(req, res).catch((err) =>
      fail(res, err instanceof AppError ? err : new AppError('INTERNAL_SERVER_ERROR')),
    );
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
