import type { CallEvent, NodeCallStats } from './bus.js';

/**
 * The JSON messages nodes exchange about a call: control events (`<p>.call.<pk>.events`) and stats
 * answers (`.stats`). What arrives from the network is checked field by field: anything malformed
 * is dropped (null / left out), never trusted, and never widened into something broader.
 */
const textDecoder = new TextDecoder();

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(textDecoder.decode(data));
  } catch {
    return undefined;
  }
}

/** A CallEvent from another node, or null when it is not one. */
export function parseCallEvent(data: Uint8Array): CallEvent | null {
  const v = parseJson(data) as Record<string, unknown> | undefined;
  if (typeof v !== 'object' || v === null) return null;
  if (v.type === 'ended') return { type: v.type };
  if (v.type === 'revoked') {
    // A selector that is present but malformed drops the event: read as absent, it would close
    // every listener of the call instead of the few it names.
    const { tokenHashes, apiKeyPrefix } = v;
    if (tokenHashes !== undefined && !isStringArray(tokenHashes)) return null;
    if (apiKeyPrefix !== undefined && typeof apiKeyPrefix !== 'string') return null;
    return {
      type: 'revoked',
      ...(tokenHashes !== undefined && { tokenHashes }),
      ...(apiKeyPrefix !== undefined && { apiKeyPrefix }),
    };
  }
  if (
    v.type === 'participant' &&
    typeof v.name === 'string' &&
    (v.state === 'joined' || v.state === 'left')
  ) {
    const { connectionId } = v;
    if (connectionId === undefined) return { type: 'participant', name: v.name, state: v.state };
    // A malformed connection id drops the event: read as absent, a `joined` could not tell this
    // node's own connection from the older ones it takes over.
    if (typeof connectionId !== 'string' || connectionId.length === 0 || connectionId.length > 64)
      return null;
    return { type: 'participant', name: v.name, state: v.state, connectionId };
  }
  return null;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** The well-formed NodeCallStats of a stats answer (others are skipped). */
export function parseNodeStats(data: Uint8Array): NodeCallStats[] {
  const v = parseJson(data);
  if (!Array.isArray(v)) return [];
  const out: NodeCallStats[] = [];
  for (const s of v) {
    if (typeof s !== 'object' || s === null) continue;
    const { listeners, tracks, heard } = s as Record<string, unknown>;
    if (!isCount(listeners) || !Array.isArray(tracks) || !Array.isArray(heard)) continue;
    out.push({
      listeners,
      tracks: tracks.filter(
        (t) =>
          typeof t?.name === 'string' &&
          typeof t.platform === 'string' &&
          typeof t.encoding === 'string' &&
          isCount(t.sampleRateHz) &&
          typeof t.connected === 'boolean' &&
          isCount(t.framesIn),
      ),
      heard: heard
        .filter((h) => typeof h?.name === 'string' && isCount(h.framesLate) && isCount(h.framesLost))
        // A node from before bufferMs existed reports none.
        .map((h) => ({ ...h, bufferMs: isCount(h.bufferMs) ? h.bufferMs : 0 })),
    });
  }
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
