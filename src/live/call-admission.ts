import type { Call } from '../domain/entities.js';
import { LIMIT_NAMES, quotaExceeded } from '../domain/limits.js';
import type { NewCall, Store } from '../store/store.js';

/**
 * Creates a call unless the organization has `limit` active calls already (SPEC §7, cluster-wide:
 * counted in the database): `POST /v1/calls`, and the first connection of an ingest key to a call
 * id that does not exist (SPEC §4.4). An id that exists already is returned as it is, whatever the
 * count, and so is a call created meanwhile by a concurrent request (the store's insert is
 * idempotent on the org and id). `onRefused` counts a refusal (its metric label).
 */
export async function createCallWithinLimit(
  store: Store,
  orgId: string,
  input: NewCall,
  limit: number,
  onRefused: (metricLabel: string) => void,
): Promise<{ call: Call; created: boolean }> {
  const existing = input.callId === undefined ? undefined : await store.getCall(orgId, input.callId);
  if (existing) return { call: existing, created: false };
  if ((await store.countActiveCalls(orgId)) >= limit) {
    onRefused(LIMIT_NAMES.activeCallsPerOrg.metric);
    throw quotaExceeded('activeCallsPerOrg', limit);
  }
  return store.createCall(orgId, input);
}
