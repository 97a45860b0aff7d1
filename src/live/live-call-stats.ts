/** One participant's ingest state and counters, as the API reports them. */
export interface ParticipantStats {
  readonly name: string;
  /** The ingest endpoint its audio arrives on: `generic` or a platform's name (src/ingest/platforms.ts). */
  readonly platform: string;
  /** The codec on the wire (`mulaw`, `alaw`, `pcm16`, `pcm16be`). */
  readonly encoding: string;
  readonly sampleRateHz: number;
  readonly connected: boolean;
  readonly framesIn: number;
  readonly framesLate: number;
  readonly framesLost: number;
  /** The delay its jitter buffer adds now (ms), on the node that mixes it with the most; 0: not mixed. */
  readonly bufferMs: number;
}

/** What is live for a call right now, across the nodes that answered. */
export interface CallLiveStats {
  readonly participants: readonly ParticipantStats[];
  readonly listeners: number;
}

/** What the real-time core knows of a call (read by GET /v1/calls/…). */
export interface LiveCallStats {
  callStats(callPk: string): Promise<CallLiveStats>;
}
