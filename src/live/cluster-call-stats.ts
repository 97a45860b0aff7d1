import type { Bus, NodeCallStats } from '../bus/bus.js';
import type { CallLiveStats, LiveCallStats, ParticipantStats } from './live-call-stats.js';

/**
 * A call's live state across the cluster: a scatter-gather over the bus (each node with something
 * live for the call answers; see Bus.gatherCallStats), merged. On the in-process bus that is exactly
 * this node's registry. Off the audio path: it runs only when the API asks.
 */
export class ClusterCallStats implements LiveCallStats {
  readonly #bus: Bus;

  constructor(bus: Bus) {
    this.#bus = bus;
  }

  async callStats(callPk: string): Promise<CallLiveStats> {
    return mergeNodeStats(await this.#bus.gatherCallStats(callPk));
  }
}

/**
 * Merges the answers of several nodes. Listeners add up. A participant is reported by the node(s)
 * that ingest it: it is connected if it is on any of them, its encoding and rate are those of the
 * connection that is (or was last) there, and `frames_in` adds up (a participant may rejoin on
 * another node). Late and lost frames, and the jitter buffer's delay, are measured by each node
 * that mixes the call: the worst node's figure is reported.
 */
export function mergeNodeStats(nodes: readonly NodeCallStats[]): CallLiveStats {
  let listeners = 0;
  const tracks = new Map<
    string,
    {
      name: string;
      platform: string;
      encoding: string;
      sampleRateHz: number;
      connected: boolean;
      framesIn: number;
    }
  >();
  const heard = new Map<string, { framesLate: number; framesLost: number; bufferMs: number }>();
  for (const node of nodes) {
    listeners += node.listeners;
    for (const t of node.tracks) {
      const seen = tracks.get(t.name);
      if (!seen) {
        tracks.set(t.name, { ...t });
        continue;
      }
      seen.framesIn += t.framesIn;
      if (t.connected && !seen.connected) {
        seen.connected = true;
        seen.platform = t.platform;
        seen.encoding = t.encoding;
        seen.sampleRateHz = t.sampleRateHz;
      }
    }
    for (const h of node.heard) {
      const seen = heard.get(h.name);
      if (!seen)
        heard.set(h.name, { framesLate: h.framesLate, framesLost: h.framesLost, bufferMs: h.bufferMs });
      else {
        seen.framesLate = Math.max(seen.framesLate, h.framesLate);
        seen.framesLost = Math.max(seen.framesLost, h.framesLost);
        seen.bufferMs = Math.max(seen.bufferMs, h.bufferMs);
      }
    }
  }
  const participants: ParticipantStats[] = [...tracks.values()].map((t) => ({
    ...t,
    framesLate: heard.get(t.name)?.framesLate ?? 0,
    framesLost: heard.get(t.name)?.framesLost ?? 0,
    bufferMs: heard.get(t.name)?.bufferMs ?? 0,
  }));
  return { participants, listeners };
}
