import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config/load-config.js';
import type { AuthFailureLimiter } from '../edge/auth-failures.js';
import type { CallLifecycle } from '../live/call-lifecycle.js';
import type { LiveCallStats } from '../live/live-call-stats.js';
import type { LiveRegistry } from '../live/live-registry.js';
import type { MediaPool } from '../live/media-pool.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import type { SocketQuotas } from './quotas.js';

/** What the socket endpoints need. */
export interface WsDeps {
  readonly config: Config;
  readonly store: Store;
  readonly bus: Bus;
  /** This process's media plane (sockets opened here when there are no media workers). */
  readonly registry: LiveRegistry;
  /** Media worker processes that own the sockets; null: every socket stays in this process. */
  readonly pool: MediaPool | null;
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
