import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../domain/app-error.js';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import { bearerTokenAuth } from '../auth.js';
import { CreateOrgBody, errorResponses, successEnvelope } from '../schemas.js';

/** /admin/v1: organizations and API keys. Registered only when EARSHOT_ADMIN_TOKEN is set. */
export const adminRoutes: FastifyPluginAsyncTypebox<AppDeps & { adminToken: string }> = async (app, deps) => {
  const { store, lifecycle, adminToken } = deps;

  app.addHook('onRequest', bearerTokenAuth(adminToken, 'admin token'));

  app.post(
    '/orgs',
    {
      schema: {
        summary: 'Create an organization and its first API key (shown once)',
        tags: ['admin'],
        body: CreateOrgBody,
        response: {
          200: successEnvelope(
            Type.Object({
              org_id: Type.String(),
              name: Type.String(),
              api_key: Type.String(),
              key_prefix: Type.String(),
            }),
          ),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const org = await store.createOrg(request.body.name, request.body.live_listen_enabled ?? false);
      const key = await store.createApiKey(org.id);
      return success({ org_id: org.id, name: org.name, api_key: key.apiKey, key_prefix: key.prefix });
    },
  );

  app.post(
    '/orgs/:org_id/keys',
    {
      schema: {
        summary: 'Create another API key for an organization (shown once)',
        tags: ['admin'],
        params: Type.Object({ org_id: Type.String() }),
        response: {
          200: successEnvelope(Type.Object({ api_key: Type.String(), key_prefix: Type.String() })),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const org = await store.getOrg(request.params.org_id);
      if (!org) throw new AppError('NOT_FOUND', 'Organization not found');
      const key = await store.createApiKey(org.id);
      return success({ api_key: key.apiKey, key_prefix: key.prefix });
    },
  );

  app.delete(
    '/keys/:key_prefix',
    {
      schema: {
        summary:
          'Revoke an API key by its visible prefix, with the listen URLs it minted; closes their listeners and the ingest sockets it authenticated (4001 "revoked")',
        tags: ['admin'],
        params: Type.Object({ key_prefix: Type.String() }),
        response: {
          200: successEnvelope(Type.Object({ key_prefix: Type.String(), revoked: Type.Literal(true) })),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request) => {
      const prefix = request.params.key_prefix;
      if (!(await lifecycle.revokeApiKey(prefix)))
        throw new AppError('NOT_FOUND', 'No live API key with that prefix');
      return success({ key_prefix: prefix, revoked: true as const });
    },
  );
};
