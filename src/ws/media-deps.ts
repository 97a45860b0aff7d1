import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { ControlPlane } from '../live/control-plane.js';
import type { LiveRegistry } from '../live/live-registry.js';
import type { Metrics } from '../observability/metrics.js';

/**
 * What an open socket needs: the media plane of its process (registry, bus, metrics, log) and the
 * control plane behind an interface — direct calls in one process, requests to the main process
 * in a media worker.
 */
export interface MediaDeps {
  readonly registry: LiveRegistry;
  readonly bus: Bus;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly control: ControlPlane;
}
