import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import { errorResponses, Preferences, PreferencesPatch, successEnvelope } from '../schemas.js';

/** The calling organization's preferences. */
export const orgRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, { lifecycle }) => {
  app.get(
    '/org/preferences',
    {
      schema: {
        summary: "The organization's preferences",
        tags: ['organization'],
        response: { 200: successEnvelope(Preferences), ...errorResponses(401, 429) },
      },
    },
    async (request) => success({ live_listen_enabled: request.org.liveListenEnabled }),
  );

  app.patch(
    '/org/preferences',
    {
      schema: {
        summary:
          'Change preferences (e.g. enable live listen); turning live listen off revokes every listen URL of the organization and closes its listeners (4001 "revoked")',
        tags: ['organization'],
        body: PreferencesPatch,
        response: { 200: successEnvelope(Preferences), ...errorResponses(400, 401, 429) },
      },
    },
    async (request) => {
      // Off revokes every listen URL of the org and closes its listeners (4001) on every node.
      const org = await lifecycle.setLiveListen(request.org.id, request.body.live_listen_enabled);
      return success({ live_listen_enabled: org?.liveListenEnabled ?? request.body.live_listen_enabled });
    },
  );
};
