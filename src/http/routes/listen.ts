import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AppError } from '../../domain/app-error.js';
import { credentialFrom } from '../../edge/credentials.js';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import { findOrgCall, requireCallId } from '../call-lookup.js';
import { webSocketBase } from '../public-url.js';
import { CallIdParams, errorResponses, ListenUrl, successEnvelope } from '../schemas.js';

/** The Bland-compatible live-listen endpoint, and revocation of its URLs. */
export const listenRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { store, lifecycle, config } = deps;

  app.post(
    '/calls/:call_id/listen',
    {
      schema: {
        summary: 'Get a WebSocket URL that streams the call live (PCM16 LE, 16 kHz, mono)',
        tags: ['listen'],
        params: CallIdParams,
        response: { 200: successEnvelope(ListenUrl), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      // The check order is part of the contract: auth (hook) → call id → preferences → call → active.
      const callId = requireCallId(request.params.call_id);
      if (!request.org.liveListenEnabled) throw new AppError('INVALID_ORG_PREFERENCES');
      const call = await findOrgCall(store, request.org, callId);
      if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
      const expiresAt = new Date(Date.now() + config.listenTokenTtlS * 1000).toISOString();
      const token = await store.createListenToken(call.pk, expiresAt, request.apiKeyPrefix);
      // Revoking the key, or turning live listen off, writes that first and then revokes the tokens:
      // a token minted meanwhile is caught by this re-check (and never handed out) or by that revocation.
      const key = credentialFrom(request.headers.authorization);
      const still = key === null ? undefined : await store.findApiKey(key);
      if (!still) throw new AppError('UNAUTHORIZED', 'Missing, unknown or revoked API key');
      if (!still.org.liveListenEnabled) throw new AppError('INVALID_ORG_PREFERENCES');
      const url = `${webSocketBase(request, config.publicUrl)}/ws/listen/${encodeURIComponent(call.callId)}?token=${token}`;
      return success({ url });
    },
  );

  app.delete(
    '/calls/:call_id/listen',
    {
      schema: {
        summary: 'Revoke every listen URL of the call and close its listeners (4001 "revoked")',
        tags: ['listen'],
        params: CallIdParams,
        response: {
          200: successEnvelope(Type.Object({ call_id: Type.String(), revoked: Type.Integer() })),
          ...errorResponses(400, 401, 404, 429),
        },
      },
    },
    async (request) => {
      const call = await findOrgCall(store, request.org, requireCallId(request.params.call_id));
      const revoked = await lifecycle.revokeListeners(call);
      return success({ call_id: call.callId, revoked });
    },
  );
};
