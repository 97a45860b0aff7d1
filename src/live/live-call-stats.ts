/** One participant's ingest state and counters, as the API reports them. */
export interface ParticipantStats {
  readonly name: string;
  readonly encoding: string;
  readonly sampleRateHz: number;
  readonly connected: boolean;
  readonly framesIn: number;
  readonly framesLate: number;
  readonly framesLost: number;
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
