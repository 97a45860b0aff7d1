import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../domain/app-error.js';
import { success } from '../../edge/envelope.js';
import type { AppDeps } from '../app-deps.js';
import { findOrgCall, requireCallId } from '../call-lookup.js';
import { CallIdParams, errorResponses, RtpPort, RtpPortBody, successEnvelope } from '../schemas.js';

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]']);

/**
 * `POST /v1/calls/{call_id}/rtp` (SPEC §4.6): a UDP port of this node for one participant of an
 * active call, which the participant's RTP is then sent to (Asterisk ExternalMedia, an SBC's fork).
 */
export const rtpRoutes: FastifyPluginAsyncTypebox<AppDeps> = async (app, deps) => {
  const { store, config } = deps;

  app.post(
    '/calls/:call_id/rtp',
    {
      schema: {
        summary: "Get a UDP port of this node to send a participant's RTP to",
        tags: ['calls'],
        params: CallIdParams,
        body: RtpPortBody,
        response: { 200: successEnvelope(RtpPort), ...errorResponses(400, 401, 404, 409, 429, 503) },
      },
    },
    async (request) => {
      const callId = requireCallId(request.params.call_id);
      const rtp = deps.rtp ?? null;
      if (config.rtp === null || rtp === null)
        throw new AppError('NOT_FOUND', 'RTP ingest is off on this server (set EARSHOT_RTP_PORTS)');
      const call = await findOrgCall(store, request.org, callId);
      if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
      const { participant = 'caller', format } = request.body;
      const grant = await rtp.allocate({ call, participant, format, keyPrefix: request.apiKeyPrefix });
      return success({
        call_id: call.callId,
        host: advertisedHost(config.rtp.host, request, config.publicUrl),
        port: grant.port,
        format: grant.format,
        participant: grant.participant,
      });
    },
  );
};

/**
 * Where senders reach this node's RTP ports: EARSHOT_RTP_HOST; when that is a wildcard (bound on
 * every interface), the host name of EARSHOT_PUBLIC_URL, or else the one the request came to.
 */
function advertisedHost(rtpHost: string, request: FastifyRequest, publicUrl: string | null): string {
  if (!WILDCARD_ADDRESSES.has(rtpHost)) return rtpHost;
  const hostname = publicUrl === null ? request.hostname : new URL(publicUrl).hostname;
  return hostname.replace(/^\[(.*)\]$/, '$1');
}
