import type { CallEvent, Unsubscribe } from '../bus/bus.js';
import { CloseCode } from '../domain/error-code.js';
import type { CallRoom } from './call-room.js';
import type { IngestTrack } from './ingest-track.js';
import type { ListenerSink } from './listener.js';

/** An open ingest connection, as the registry needs to see it. */
export interface IngestConnection {
  readonly tracks: readonly IngestTrack[];
  /** Prefix of the API key that authenticated it (revoking the key closes it); null for a token. */
  readonly apiKeyPrefix?: string | null;
  /** Closes the socket (idempotent). */
  close(code: number, reason: string): void;
}

/** What one node has live for one call (LiveRegistry keeps one per call). */
export interface CallPresence {
  room: CallRoom | null;
  unsubscribeFrames: Unsubscribe | null;
  readonly unsubscribeEvents: Unsubscribe;
  readonly unsubscribeStats: Unsubscribe;
  readonly ingests: Set<IngestConnection>;
  /** Every participant ingested on this node during the call (also after it disconnected). */
  readonly tracks: Map<string, IngestTrack>;
  /** Participant name → the ingest connection of its latest `joined` heard on the bus (any node). */
  readonly carriers: Map<string, string>;
  /** The call has ended: forget it as soon as its sockets are gone, participants or not. */
  ended: boolean;
}

/** Closes with 4001 the call's listeners that connected with one of these listen token hashes; returns how many. */
export function closeListenersOfTokens(
  presence: CallPresence | undefined,
  tokenHashes: Iterable<string>,
): number {
  const revoked = new Set(tokenHashes);
  const gone: ListenerSink[] = [];
  presence?.room?.forEachListener((l) => {
    if (revoked.has(l.tokenHash)) gone.push(l);
  });
  for (const listener of gone) listener.close(CloseCode.REVOKED, 'revoked');
  return gone.length;
}

/**
 * A `revoked` event: without a selector every listener of the call closes (4001); with token
 * hashes, the listeners that connected with them; with an API key's prefix, the ingest connections
 * that key authenticated.
 */
export function applyRevocation(
  presence: CallPresence,
  event: Extract<CallEvent, { type: 'revoked' }>,
): void {
  const { tokenHashes, apiKeyPrefix } = event;
  if (tokenHashes === undefined && apiKeyPrefix === undefined) {
    presence.room?.forEachListener((l) => l.close(CloseCode.REVOKED, 'revoked'));
    return;
  }
  if (tokenHashes !== undefined) closeListenersOfTokens(presence, tokenHashes);
  if (apiKeyPrefix === undefined) return;
  for (const ingest of [...presence.ingests]) {
    if (ingest.apiKeyPrefix === apiKeyPrefix) ingest.close(CloseCode.REVOKED, 'revoked');
  }
}

/**
 * A participant joined or left somewhere in the cluster. A `joined` takes the participant over
 * from every other connection of this node that carries it (`onReplaced` is told of each track it
 * stops) and restarts its track in the room; a `left` ends its track in the room (the buffered
 * frames play out), unless it is of a connection that was taken over meanwhile: that one is stale
 * (from a node that had not yet heard the `joined`), is not announced and ends nothing. Returns
 * whether listeners hear of it.
 */
export function applyParticipantEvent(
  presence: CallPresence,
  event: Extract<CallEvent, { type: 'participant' }>,
  onReplaced: (track: IngestTrack) => void,
): boolean {
  const { name, connectionId } = event;
  if (event.state === 'joined') {
    if (connectionId !== undefined) {
      presence.carriers.set(name, connectionId);
      takeOver(presence, name, connectionId, onReplaced);
    }
    // A new stream starts (at seq 0): what the room still holds of an older one would hold it up.
    presence.room?.restartTrack(name);
    return true;
  }
  const carrier = presence.carriers.get(name);
  if (connectionId !== undefined && carrier !== undefined && carrier !== connectionId) return false;
  presence.carriers.delete(name);
  // Its stream has ended: what the room still holds of it plays out, and no loss is counted after.
  presence.room?.endTrack(name);
  return true;
}

/**
 * Closes with 4002 "replaced" this node's connections that carry participant `name` and are not
 * `connectionId`. Their track stops at once and never announces `left` (the participant is still
 * there); the connection's other participants, if any, leave as it closes.
 */
function takeOver(
  presence: CallPresence,
  name: string,
  connectionId: string,
  onReplaced: (track: IngestTrack) => void,
): void {
  for (const ingest of [...presence.ingests]) {
    for (const track of ingest.tracks) {
      if (track.name !== name || track.connectionId === connectionId || !track.connected) continue;
      track.connected = false;
      onReplaced(track);
      ingest.close(CloseCode.REPLACED, 'replaced');
    }
  }
}
