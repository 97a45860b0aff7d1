import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { success } from '../../edge/envelope.js';
import { createCallWithinLimit } from '../../live/call-admission.js';
import type { AppDeps } from '../app-deps.js';
import { findOrgCall, requireCallId } from '../call-lookup.js';
import { callView } from '../call-view.js';
import { webSocketBase } from '../public-url.js';
import {
  CallIdParams,
  CallView,
  CreateCallBody,
  CreatedCall,
  errorResponses,
  ListCallsQuery,
  StoppedCall,
  successEnvelope,
} from '../schemas.js';

/** /v1/calls: create (idempotent on a caller-chosen id), get, list, stop. */
export const callRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { store, lifecycle, live, config } = deps;

  app.post(
    '/calls',
    {
      schema: {
        summary: 'Create a call (idempotent for a caller-chosen call_id)',
        tags: ['calls'],
        body: CreateCallBody,
        response: { 200: successEnvelope(CreatedCall), ...errorResponses(400, 401, 429) },
      },
      // Every field is optional, and so is the body itself (`curl -X POST …/v1/calls`).
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const body = request.body;
      const { call, created } = await createCallWithinLimit(
        store,
        request.org.id,
        {
          callId: body.call_id,
          from: body.from,
          to: body.to,
          metadata: body.metadata as Record<string, unknown> | null | undefined,
        },
        config.limits.activeCallsPerOrg,
        (limit) => deps.metrics.quotaRefusals.inc({ limit }),
      );
      if (created) deps.metrics.activeCallsChanged();
      // A new ingest token on every create: the store keeps only hashes, so an idempotent repeat
      // cannot return the first token; both stay valid for the call's lifetime.
      const token = await store.createIngestToken(call.pk);
      const ws = webSocketBase(request, config.publicUrl);
      return success({
        call_id: call.callId,
        status: call.status,
        created_at: call.createdAt,
        ingest: {
          token,
          url: `${ws}/ws/ingest/${encodeURIComponent(call.callId)}?token=${token}`,
          twilio_url: `${ws}/ws/twilio`,
        },
      });
    },
  );

  app.get(
    '/calls',
    {
      schema: {
        summary: 'List calls, newest first',
        tags: ['calls'],
        querystring: ListCallsQuery,
        response: {
          200: successEnvelope(
            Type.Object({
              calls: Type.Array(CallView),
              next_cursor: Type.Union([Type.String(), Type.Null()]),
            }),
          ),
          ...errorResponses(400, 401, 429),
        },
      },
    },
    async (request) => {
      const { status, limit = 20, cursor } = request.query;
      const page = await store.listCalls(request.org.id, { status, limit, cursor });
      const views = await Promise.all(page.calls.map(async (c) => callView(c, await live.callStats(c.pk))));
      return success({ calls: views, next_cursor: page.nextCursor });
    },
  );

  app.get(
    '/calls/:call_id',
    {
      schema: {
        summary: 'Get a call with its participants and listener count',
        tags: ['calls'],
        params: CallIdParams,
        response: { 200: successEnvelope(CallView), ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (request) => {
      const call = await findOrgCall(store, request.org, requireCallId(request.params.call_id));
      return success(callView(call, await live.callStats(call.pk)));
    },
  );

  app.post(
    '/calls/:call_id/stop',
    {
      schema: {
        summary: 'Complete a call (idempotent); its listeners are closed with 1000 "call ended"',
        tags: ['calls'],
        params: CallIdParams,
        response: { 200: successEnvelope(StoppedCall), ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (request) => {
      const call = await lifecycle.complete(
        await findOrgCall(store, request.org, requireCallId(request.params.call_id)),
      );
      return success({
        call_id: call.callId,
        status: 'completed' as const,
        ended_at: call.endedAt as string,
      });
    },
  );
};
