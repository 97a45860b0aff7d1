import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { type TypeBoxTypeProvider, TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { AppError } from '../domain/app-error.js';
import {
  guardConnections,
  httpConnectionsExceeded,
  isOverConnectionLimit,
} from '../edge/connection-guard.js';
import { credentialFrom } from '../edge/credentials.js';
import { failure } from '../edge/envelope.js';
import { toAppError } from '../edge/to-app-error.js';
import { hashSecret } from '../store/secrets.js';
import type { AppDeps } from './app-deps.js';
import { apiKeyAuth } from './auth.js';
import { createHttpServer, handleClientError } from './early-errors.js';
import { jsonNestingExceeds, MAX_JSON_DEPTH } from './json-depth.js';
import { adminRoutes } from './routes/admin.js';
import { callRoutes } from './routes/calls.js';
import { consoleRoutes } from './routes/console.js';
import { ingestKeyRoutes } from './routes/ingest-keys.js';
import { listenRoutes } from './routes/listen.js';
import { operationsRoutes } from './routes/operations.js';
import { orgRoutes } from './routes/org.js';
import { rtpRoutes } from './routes/rtp.js';
import { ErrorEnvelope } from './schemas.js';

const BODY_LIMIT_BYTES = 64 * 1024;

/**
 * Builds the HTTP application (Fastify) from its dependencies. It never listens: main.ts does, and
 * tests either listen on port 0 or use `inject()`. WebSocket upgrades are attached by the caller.
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    // A hop count is accepted by Fastify at run time; its typings list only the other forms.
    trustProxy: deps.config.trustProxy as boolean | string,
    bodyLimit: BODY_LIMIT_BYTES,
    // Path parameters longer than any valid id still reach the routes (answered CALL_NOT_FOUND).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // Errors raised by the router itself (malformed URL, oversized parameter) get the envelope too.
    frameworkErrors: (err, _request, reply: FastifyReply) => {
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
        const message = 'A URL path segment is longer than 1024 characters';
        return reply.code(414).send(failure('MESSAGE_TOO_BIG', message));
      }
      if (err.code === 'FST_ERR_BAD_URL') {
        return reply.code(400).send(failure('VALIDATION_ERROR', 'Malformed URL (bad percent-encoding)'));
      }
      const { error } = toAppError(err);
      reply.code(error.status).send(failure(error.code, error.message));
    },
    // So are errors before routing: Node's HTTP parser (431, 400, 408), a missing Host, a request
    // arriving while the server shuts down (src/http/early-errors.ts answers those itself).
    clientErrorHandler: handleClientError,
    serverFactory: createHttpServer,
    return503OnClosing: false,
    // Ajv removes unknown properties by default; fail loudly instead (schemas say additionalProperties: false).
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Fastify's Ajv coerces body types ("true" or 1 for a boolean, 42 for a string): routes with a body
  // are validated by TypeBox instead, which converts nothing in a body. Query strings keep Ajv's
  // coercion (they arrive as strings: `?limit=20`).
  app.addHook('onRoute', (route) => {
    if (route.schema?.body !== undefined) route.validatorCompiler ??= TypeBoxValidatorCompiler;
  });

  // Audio first: on a loop that also mixes, a request that finds a tick due waits for it (AppDeps).
  const audioClock = deps.audioClock;
  if (audioClock)
    app.addHook('onRequest', async () => {
      while (audioClock.due()) await audioClock.afterTick();
    });

  acceptEmptyJsonBodies(app);
  app.addSchema(ErrorEnvelope);

  // Plain HTTP connections per peer address are bounded (behind a trusted proxy, the proxy's job):
  // a request on a connection past the bound is answered 429 and the connection closed.
  if (deps.config.trustProxy === false) {
    const limit = deps.config.httpConnectionsPerAddress;
    guardConnections(app.server, limit, deps.metrics);
    app.addHook('onRequest', async (request, reply) => {
      if (!isOverConnectionLimit(request.raw.socket)) return;
      reply.header('connection', 'close');
      throw httpConnectionsExceeded(limit);
    });
  }

  app.setErrorHandler((err, request, reply) => {
    const { error, internal } = toAppError(err);
    if (internal) request.log.error({ err }, 'unhandled error');
    else if (error.status >= 500) request.log.warn({ err }, error.message);
    if (error.headers) reply.headers(error.headers);
    return reply.code(error.status).send(failure(error.code, error.message));
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(failure('NOT_FOUND', 'Route not found')));

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'earshot',
        version: '1',
        description:
          'Live listening to phone and voice-AI calls. Bland-compatible `POST /v1/calls/{call_id}/listen`. ' +
          'WebSocket endpoints (/ws/listen, /ws/ingest, /ws/twilio) are described in docs/api.md.',
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'apiKey',
            in: 'header',
            name: 'Authorization',
            description: '`<api_key>` or `Bearer <api_key>`',
          },
        },
      },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(operationsRoutes, deps);
  await app.register(consoleRoutes);
  // Failed authentications count per client address, on every route that authenticates (the
  // limiter's check runs in the scopes below, before any credential is looked up).
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode === 401) deps.authFailures.recordFailure(request.ip);
  });
  const limitFailedAuth = async (request: FastifyRequest) => deps.authFailures.check(request.ip);

  await app.register(async (api) => {
    api.addHook('onRequest', limitFailedAuth);
    await api.register(rateLimit, {
      max: deps.config.rateLimitPerMin,
      timeWindow: 60_000,
      // Per API key (hashed, so no key sits in memory as-is); per address when there is none.
      keyGenerator: (request) => {
        const key = credentialFrom(request.headers.authorization);
        return key === null ? `ip:${request.ip}` : `key:${hashSecret(key)}`;
      },
      errorResponseBuilder: (_request, context) =>
        new AppError('RATE_LIMITED', `Rate limit exceeded, retry in ${context.after}`),
    });
    await api.register(
      async (v1) => {
        v1.decorateRequest('org', null as never);
        v1.decorateRequest('apiKeyPrefix', '');
        v1.addHook('onRequest', apiKeyAuth(deps.store));
        await v1.register(listenRoutes, deps);
        await v1.register(callRoutes, deps);
        await v1.register(orgRoutes, deps);
        await v1.register(ingestKeyRoutes, deps);
        await v1.register(rtpRoutes, deps);
      },
      { prefix: '/v1' },
    );
    const adminToken = deps.config.adminToken;
    if (adminToken !== null) await api.register(adminRoutes, { ...deps, adminToken, prefix: '/admin/v1' });
  });

  return app;
}

/**
 * `Content-Type: application/json` with an empty body (common for POST …/listen) means "no body".
 * A body nested deeper than MAX_JSON_DEPTH is refused (VALIDATION_ERROR) before it is parsed.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    if (jsonNestingExceeds(body as string, MAX_JSON_DEPTH)) {
      const message = `Body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep`;
      return done(new AppError('VALIDATION_ERROR', message), undefined);
    }
    parseJson(request, body as string, done);
  });
}
