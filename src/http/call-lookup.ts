import { AppError } from '../domain/app-error.js';
import type { Call, Org } from '../domain/entities.js';
import { isValidCallId } from '../domain/ids.js';
import type { Store } from '../store/store.js';

/** The `{call_id}` path segment, or MISSING_CALL_ID when it is empty or blank. */
export function requireCallId(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') throw new AppError('MISSING_CALL_ID');
  return raw;
}

/**
 * The org's call with this id. A call of another organization is answered exactly like a missing
 * one (same code, same message, same bytes), so ids cannot be probed across organizations.
 */
export async function findOrgCall(store: Store, org: Org, callId: string): Promise<Call> {
  const call = isValidCallId(callId) ? await store.getCall(org.id, callId) : undefined;
  if (!call) throw new AppError('CALL_NOT_FOUND');
  return call;
}
