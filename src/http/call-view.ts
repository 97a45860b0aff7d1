import type { Call } from '../domain/entities.js';
import type { CallLiveStats } from '../live/live-call-stats.js';

/** A call as the API shows it: stored state plus what is live for it across the cluster. */
export function callView(call: Call, live: CallLiveStats) {
  return {
    call_id: call.callId,
    status: call.status,
    created_at: call.createdAt,
    ended_at: call.endedAt,
    from: call.from,
    to: call.to,
    metadata: call.metadata,
    participants: live.participants.map((p) => ({
      name: p.name,
      platform: p.platform,
      encoding: p.encoding,
      sample_rate: p.sampleRateHz,
      connected: p.connected,
      frames_in: p.framesIn,
      frames_late: p.framesLate,
      frames_lost: p.framesLost,
      buffer_ms: p.bufferMs,
    })),
    listeners: live.listeners,
  };
}
