import type { ControlPlane } from '../live/control-plane.js';
import { resolveIngestCall } from './ingest-credentials.js';
import { checkParticipants } from './quotas.js';
import type { WsDeps } from './ws-deps.js';

/** The control plane as direct calls, for sockets open in the main process (and for media workers' requests). */
export function localControlPlane(deps: WsDeps): ControlPlane {
  return {
    touchCall: deps.touchCall,
    async completeCall(call) {
      await deps.lifecycle.complete(call);
    },
    async authorizeStream(address, start) {
      const grant = await deps.authFailures.guard(address, () => resolveIngestCall(deps, start));
      await checkParticipants(deps, grant.call.pk, start.participants);
      return grant;
    },
    async listenerStatus(callPk, tokenHash) {
      if ((await deps.store.getCallByPk(callPk))?.status !== 'active') return 'ended';
      const revoked = await deps.store.revokedListenTokenHashes(callPk);
      return revoked.includes(tokenHash) ? 'revoked' : 'active';
    },
  };
}
