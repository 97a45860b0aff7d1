import { AppError } from '../domain/app-error.js';
import type { ControlPlane } from '../live/control-plane.js';
import { resolveIngestCredential } from './generic-ingest-endpoint.js';
import { checkParticipants } from './quotas.js';
import type { WsDeps } from './ws-deps.js';

/** The control plane as direct calls, for sockets open in the main process (and for media workers' requests). */
export function localControlPlane(deps: WsDeps): ControlPlane {
  return {
    touchCall: deps.touchCall,
    async completeCall(call) {
      await deps.lifecycle.complete(call);
    },
    async authorizeTwilio(address, start) {
      const { call } = await deps.authFailures.guard(address, () =>
        resolveIngestCredential(deps, start.callId, start.token, undefined),
      );
      if (call.status !== 'active') throw new AppError('INVALID_CALL_STATUS');
      await checkParticipants(deps, call.pk, start.participants);
      return call;
    },
    async listenerStatus(callPk, tokenHash) {
      if ((await deps.store.getCallByPk(callPk))?.status !== 'active') return 'ended';
      const revoked = await deps.store.revokedListenTokenHashes(callPk);
      return revoked.includes(tokenHash) ? 'revoked' : 'active';
    },
  };
}
