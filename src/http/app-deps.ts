import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config/load-config.js';
import type { AuthFailureLimiter } from '../edge/auth-failures.js';
import type { CallLifecycle } from '../live/call-lifecycle.js';
import type { LiveCallStats } from '../live/live-call-stats.js';
import type { RtpPortGrant, RtpRequest } from '../live/rtp-ports.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';

/** Everything the HTTP app needs, wired by the composition root (main.ts) or by a test. */
export interface AppDeps {
  readonly config: Config;
  readonly store: Store;
  readonly bus: Bus;
  readonly lifecycle: CallLifecycle;
  readonly live: LiveCallStats;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Failed authentications per client address, shared by the HTTP API and the socket upgrades. */
  readonly authFailures: AuthFailureLimiter;
  /**
   * The clock of the audio mixed in this process (none with media workers, or in tests): while a
   * tick is due, a request waits until it has run, so that a flood of requests never delays the
   * audio by more than one request's work.
   */
  readonly audioClock?: AudioClock;
  /** This node's RTP ports (SPEC §4.6); absent or null when RTP is off. */
  readonly rtp?: RtpAllocator | null;
}

/** What the HTTP app sees of the RTP ports (src/live/rtp-ports.ts). */
export interface RtpAllocator {
  allocate(request: RtpRequest): Promise<RtpPortGrant>;
}

/** What the HTTP app sees of a process's real-time clock (src/live/clock.ts). */
export interface AudioClock {
  due(): boolean;
  afterTick(): Promise<void>;
}
