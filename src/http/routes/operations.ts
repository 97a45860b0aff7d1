import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../domain/app-error.js';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import { bearerTokenAuth } from '../auth.js';
import { errorResponses, successEnvelope } from '../schemas.js';

const PROBE_TIMEOUT_MS = 2000;

/** Health, readiness and Prometheus metrics. No authentication (but an optional metrics token), no rate limit. */
export const operationsRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (
  app,
  { store, bus, metrics, config, authFailures },
) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'The process is up',
        tags: ['operations'],
        response: { 200: successEnvelope(Type.Object({ status: Type.Literal('ok') })) },
      },
    },
    async () => success({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'The database and the bus are reachable',
        tags: ['operations'],
        response: {
          200: successEnvelope(Type.Object({ database: Type.Literal('ok'), bus: Type.Literal('ok') })),
          ...errorResponses(503),
        },
      },
    },
    async () => {
      const [database, busState] = await Promise.all([probe(store.ping()), probe(bus.ping())]);
      const down = [database ? null : 'database', busState ? null : 'bus'].filter((x) => x !== null);
      if (down.length > 0)
        throw new AppError('SERVICE_UNAVAILABLE', `Not ready: ${down.join(' and ')} unreachable`);
      return success({ database: 'ok' as const, bus: 'ok' as const });
    },
  );

  // With EARSHOT_METRICS_LISTEN, /metrics is served on that address only (main.ts), not here.
  if (config.metricsListen !== null) return;
  const metricsToken = config.metricsToken;
  app.get(
    '/metrics',
    {
      schema: { summary: 'Prometheus metrics (Bearer EARSHOT_METRICS_TOKEN when set)', tags: ['operations'] },
      // A token is checked like any credential: failures count per address, limited before the check.
      onRequest:
        metricsToken === null
          ? []
          : [
              async (request) => authFailures.check(request.ip),
              bearerTokenAuth(metricsToken, 'metrics token'),
            ],
    },
    async (_request, reply) => {
      reply.type(metrics.registry.contentType);
      return metrics.render();
    },
  );
};

async function probe(check: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
