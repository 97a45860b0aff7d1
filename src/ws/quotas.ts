import type { AppError } from '../domain/app-error.js';
import { LIMIT_NAMES, type Limits, quotaExceeded } from '../domain/limits.js';
import type { Metrics } from '../observability/metrics.js';
import type { WsDeps } from './ws-deps.js';

/** Gives back what an admission counted (idempotent). */
export type Release = () => void;

/**
 * The socket limits of SPEC §7 that one node enforces by counting its own sockets: WebSocket
 * connections per client address, listeners per call and per organization. Counting is synchronous
 * and happens at the upgrade, after the credentials were checked and before the socket opens, so a
 * refusal is an HTTP 429 `QUOTA_EXCEEDED` with the envelope. (Participants per call are counted
 * across the cluster, from what every node reports; active calls per organization from the
 * database — see `checkParticipants` and the calls route.)
 */
export class SocketQuotas {
  readonly #limits: Limits;
  readonly #metrics: Metrics;
  readonly #perAddress = new Map<string, number>();
  readonly #perOrg = new Map<string, number>();
  readonly #perCall = new Map<string, number>();

  constructor(limits: Limits, metrics: Metrics) {
    this.#limits = limits;
    this.#metrics = metrics;
  }

  /** Throws QUOTA_EXCEEDED when the address already holds its limit of sockets (a cheap check, before any lookup). */
  checkAddress(address: string): void {
    if ((this.#perAddress.get(address) ?? 0) >= this.#limits.connectionsPerAddress)
      throw this.#refuse('connectionsPerAddress');
  }

  /** Counts one socket of `address`. */
  admitConnection(address: string): Release {
    this.checkAddress(address);
    return this.#count(this.#perAddress, address);
  }

  /** Counts one listener of the call and organization on this node, or refuses. */
  admitListener(orgId: string, callPk: string): Release {
    if ((this.#perCall.get(callPk) ?? 0) >= this.#limits.listenersPerCall)
      throw this.#refuse('listenersPerCall');
    if ((this.#perOrg.get(orgId) ?? 0) >= this.#limits.listenersPerOrg) throw this.#refuse('listenersPerOrg');
    const call = this.#count(this.#perCall, callPk);
    const org = this.#count(this.#perOrg, orgId);
    return () => {
      call();
      org();
    };
  }

  /**
   * Refuses a connection that would bring the call's connected participants (on every node, as
   * reported) past the limit; names it brings that are connected already are taken over, not added.
   */
  checkParticipants(connected: readonly string[], bringing: readonly string[]): void {
    const after = new Set([...connected, ...bringing]).size;
    if (after > this.#limits.participantsPerCall) throw this.#refuse('participantsPerCall');
  }

  #count(map: Map<string, number>, key: string): Release {
    map.set(key, (map.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (map.get(key) ?? 1) - 1;
      if (n <= 0) map.delete(key);
      else map.set(key, n);
    };
  }

  #refuse(limit: keyof Limits): AppError {
    this.#metrics.quotaRefusals.inc({ limit: LIMIT_NAMES[limit].metric });
    return quotaExceeded(limit, this.#limits[limit]);
  }
}

/**
 * SPEC §7: refuses ingest that would bring the call past its participants, counted over every node
 * (each node that mixes the call for its listeners mixes all of them).
 */
export async function checkParticipants(
  deps: Pick<WsDeps, 'live' | 'quotas'>,
  callPk: string,
  bringing: readonly string[],
): Promise<void> {
  const { participants } = await deps.live.callStats(callPk);
  deps.quotas.checkParticipants(
    participants.filter((p) => p.connected).map((p) => p.name),
    bringing,
  );
}
