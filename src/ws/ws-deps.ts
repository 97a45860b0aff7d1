import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config/load-config.js';
import type { AuthFailureLimiter } from '../edge/auth-failures.js';
import type { CallLifecycle } from '../live/call-lifecycle.js';
import type { FanoutPool } from '../live/fanout-pool.js';
import type { LiveCallStats } from '../live/live-call-stats.js';
import type { LiveRegistry } from '../live/live-registry.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import type { SocketQuotas } from './quotas.js';

/** What the socket endpoints need. */
export interface WsDeps {
  readonly config: Config;
  readonly store: Store;
  readonly bus: Bus;
  readonly registry: LiveRegistry;
  /** Fan-out worker processes that own listener sockets; null: listeners stay in this process. */
  readonly fanout: FanoutPool | null;
  readonly lifecycle: CallLifecycle;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Refreshes the idle-timeout activity of a call now (on ingest connect and disconnect). */
  readonly touchCall: (callPk: string) => void;
  /** What every node has live for a call (participants connected anywhere). */
  readonly live: LiveCallStats;
  readonly authFailures: AuthFailureLimiter;
  readonly quotas: SocketQuotas;
}
