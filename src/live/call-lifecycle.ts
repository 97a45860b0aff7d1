import type { Bus } from '../bus/bus.js';
import type { Call, Org } from '../domain/entities.js';
import type { Store } from '../store/store.js';

/**
 * The control-plane transitions of a call that other nodes must hear about: they change the store
 * first (the source of truth), then announce on the bus so that every node closes its listeners.
 */
export class CallLifecycle {
  readonly #store: Store;
  readonly #bus: Bus;

  readonly #onCompleted: () => void;

  /** `onCompleted`: told when this node completed a call (e.g. so that metrics count again). */
  constructor(store: Store, bus: Bus, onCompleted: () => void = () => {}) {
    this.#store = store;
    this.#bus = bus;
    this.#onCompleted = onCompleted;
  }

  /** Completes the call (idempotent) and tells every node; returns the call as stored. */
  async complete(call: Call): Promise<Call> {
    const result = await this.#store.completeCall(call.pk);
    if (result?.changed) this.#onCompleted();
    // Announce even when another request completed it first: announcing twice is harmless and
    // covers a node that crashed between its store write and its publish.
    this.#bus.publishCallEvent(call.pk, { type: 'ended' });
    return result?.call ?? call;
  }

  /** Revokes every listen URL of the call and closes its listeners on every node. */
  async revokeListeners(call: Call): Promise<number> {
    const revoked = await this.#store.revokeListenTokens(call.pk);
    this.#bus.publishCallEvent(call.pk, { type: 'revoked' });
    return revoked;
  }

  /**
   * Sets the org's live-listen preference. Off revokes every listen URL of the org (the store does)
   * and closes the listeners of its active calls on every node — also when it was off already, which
   * costs nothing and covers a node that crashed between its store write and its publish.
   */
  async setLiveListen(orgId: string, enabled: boolean): Promise<Org | undefined> {
    const org = await this.#store.setLiveListenEnabled(orgId, enabled);
    if (!enabled) {
      for (const pk of await this.#store.activeCallPks(orgId)) {
        this.#bus.publishCallEvent(pk, { type: 'revoked' });
      }
    }
    return org;
  }

  /**
   * Revokes an API key and the listen URLs it minted (the store does), then closes on every node the
   * listeners connected with those URLs and the ingest sockets the key authenticated. A key ingests
   * only into its own org's calls, so one event per active call of the org reaches them all.
   * False when there is no such live key.
   */
  async revokeApiKey(prefix: string): Promise<boolean> {
    const revoked = await this.#store.revokeApiKey(prefix);
    if (!revoked) return false;
    const minted = new Map<string, string[]>();
    for (const { callPk, tokenHash } of await this.#store.listenTokensOfApiKey(prefix)) {
      const hashes = minted.get(callPk);
      if (hashes) hashes.push(tokenHash);
      else minted.set(callPk, [tokenHash]);
    }
    for (const pk of await this.#store.activeCallPks(revoked.orgId)) {
      const hashes = minted.get(pk) ?? [];
      // A call with very many URLs is announced in parts, each well under NATS's payload limit.
      for (let i = 0; i === 0 || i < hashes.length; i += MAX_HASHES_PER_EVENT) {
        const tokenHashes = hashes.slice(i, i + MAX_HASHES_PER_EVENT);
        this.#bus.publishCallEvent(pk, { type: 'revoked', apiKeyPrefix: prefix, tokenHashes });
      }
    }
    return true;
  }

  /**
   * Revokes an ingest key — of `orgId` only, when given — and closes on every node the ingest
   * connections it opened (4001 `revoked`): one event per active call of its org, naming the key.
   * False when there is no such live key.
   */
  async revokeIngestKey(prefix: string, orgId?: string): Promise<boolean> {
    const revoked = await this.#store.revokeIngestKey(prefix, orgId);
    if (!revoked) return false;
    for (const pk of await this.#store.activeCallPks(revoked.orgId))
      this.#bus.publishCallEvent(pk, { type: 'revoked', apiKeyPrefix: prefix });
    return true;
  }
}

/** 64 hex characters each: ~66 KiB of JSON at most per event. */
const MAX_HASHES_PER_EVENT = 1000;
