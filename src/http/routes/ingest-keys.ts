import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../domain/app-error.js';
import type { IngestKeyInfo } from '../../domain/entities.js';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import {
  CreatedIngestKey,
  CreateIngestKeyBody,
  errorResponses,
  IngestKeyView,
  successEnvelope,
} from '../schemas.js';

/**
 * /v1/ingest-keys (SPEC §4.4): keys that bring audio in on every ingest endpoint — creating calls
 * by themselves — and are accepted nowhere else. Managed with the organization's API key.
 */
export const ingestKeyRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { store, lifecycle }) => {
  app.post(
    '/ingest-keys',
    {
      schema: {
        summary: 'Create an ingest key (shown once)',
        tags: ['ingest keys'],
        body: CreateIngestKeyBody,
        response: { 200: successEnvelope(CreatedIngestKey), ...errorResponses(400, 401, 429) },
      },
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const { name, client_secret } = request.body;
      const key = await store.createIngestKey(request.org.id, {
        name: name ?? null,
        clientSecret: client_secret ?? null,
      });
      return success({
        ingest_key: key.ingestKey,
        prefix: key.prefix,
        name: key.name,
        created_at: key.createdAt,
      });
    },
  );

  app.get(
    '/ingest-keys',
    {
      schema: {
        summary: "The organization's live ingest keys (never the keys themselves)",
        tags: ['ingest keys'],
        response: {
          200: successEnvelope(Type.Object({ ingest_keys: Type.Array(IngestKeyView) })),
          ...errorResponses(401, 429),
        },
      },
    },
    async (request) => success({ ingest_keys: (await store.listIngestKeys(request.org.id)).map(view) }),
  );

  app.delete(
    '/ingest-keys/:prefix',
    {
      schema: {
        summary: 'Revoke an ingest key; the ingest connections it opened are closed (4001 "revoked")',
        tags: ['ingest keys'],
        params: Type.Object({ prefix: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: {
          200: successEnvelope(Type.Object({ prefix: Type.String(), revoked: Type.Literal(true) })),
          ...errorResponses(401, 404, 429),
        },
      },
    },
    async (request) => {
      const { prefix } = request.params;
      if (!(await lifecycle.revokeIngestKey(prefix, request.org.id)))
        throw new AppError('NOT_FOUND', 'No live ingest key with this prefix');
      return success({ prefix, revoked: true as const });
    },
  );
};

function view(key: IngestKeyInfo) {
  return { prefix: key.prefix, name: key.name, created_at: key.createdAt, last_used_at: key.lastUsedAt };
}
