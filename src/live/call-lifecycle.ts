import type { Bus } from '../bus/bus.js';
import type { Call } from '../domain/entities.js';
import type { Store } from '../store/store.js';

/**
 * The control-plane transitions of a call that other nodes must hear about: they change the store
 * first (the source of truth), then announce on the bus so that every node closes its listeners.
 */
export class CallLifecycle {
  readonly #store: Store;
  readonly #bus: Bus;

  constructor(store: Store, bus: Bus) {
    this.#store = store;
    this.#bus = bus;
  }

  /** Completes the call (idempotent) and tells every node; returns the call as stored. */
  async complete(call: Call): Promise<Call> {
    const result = await this.#store.completeCall(call.pk);
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
}
