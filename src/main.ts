import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Bus } from './bus/bus.js';
import { BusHub } from './bus/bus-hub.js';
import { MemoryBus } from './bus/memory-bus.js';
import { NatsBus } from './bus/nats-bus.js';
import type { Config } from './config/load-config.js';
import { AuthFailureLimiter } from './edge/auth-failures.js';
import type { AppDeps } from './http/app-deps.js';
import { buildApp } from './http/build-app.js';
import { startMetricsServer } from './http/metrics-server.js';
import { startActivityHeartbeat } from './live/activity-heartbeat.js';
import { CallLifecycle } from './live/call-lifecycle.js';
import { startCallReconciler } from './live/call-reconciler.js';
import { Clock } from './live/clock.js';
import { ClusterCallStats } from './live/cluster-call-stats.js';
import { DirectWriteBatch } from './live/direct-write.js';
import { startIdleSweeper } from './live/idle-sweeper.js';
import { LiveRegistry } from './live/live-registry.js';
import { MediaPool } from './live/media-pool.js';
import { RtpPorts } from './live/rtp-ports.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { openStore } from './store/open-store.js';
import { attachWebSockets } from './ws/attach-websockets.js';
import { startAudioSocketServer } from './ws/audiosocket-server.js';
import { localControlPlane } from './ws/local-control-plane.js';
import { mediaWorkerEntry } from './ws/media-worker-entry.js';
import { checkParticipants, SocketQuotas } from './ws/quotas.js';

export interface RunningServer {
  /** The http:// URL the server listens on (with the port actually chosen when EARSHOT_PORT=0). */
  readonly url: string;
  readonly port: number;
  readonly app: FastifyInstance;
  readonly deps: AppDeps;
  /** The URL of /metrics' own listener (EARSHOT_METRICS_LISTEN), or null when it is on the main port. */
  readonly metricsUrl: string | null;
  /** Where AudioSocket is served (EARSHOT_AUDIOSOCKET_LISTEN, the port actually chosen), or null when off. */
  readonly audiosocket: { readonly host: string; readonly port: number } | null;
  /** Stops accepting, closes every socket, and releases the database and bus. Idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: the only place that wires real dependencies together and listens.
 * Used by `earshot serve` and by the integration tests (several servers may run in one process).
 */
export async function startServer(config: Config, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = await openStore(config.database, {
    onBackgroundError: (err) => logger.warn({ err }, 'database connection error'),
  });
  const metrics = new Metrics({ countActiveCalls: () => store.countActiveCalls() });
  let bus: Bus;
  try {
    bus = await createBus(config, logger, metrics);
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  const lifecycle = new CallLifecycle(store, bus, () => metrics.activeCallsChanged());
  const clock = new Clock({
    // This loop serves HTTP too: a catch-up runs at once, not after a batch of requests (ClockOptions).
    poll: 'never',
    onTick: (durationMs) => metrics.mixLatency.observe(durationMs / 1000),
    onSkip: (ticks) => logger.warn({ ticks }, 'event loop stalled: skipped mixer ticks'),
    onHandlerError: (err) => logger.error({ err }, 'mixer tick failed'),
  });
  let pool: MediaPool | null = null;
  let directWrites: DirectWriteBatch | null;
  try {
    directWrites = DirectWriteBatch.create(config.directWrites, (err) =>
      logger.warn({ err: err.message }, 'native addon not built: listener messages go through each socket'),
    );
    metrics.directWrites.set(directWrites ? 1 : 0);
    if (config.mediaWorkers > 0) {
      const nats =
        config.natsServers.length > 0 ? { servers: config.natsServers, prefix: config.natsPrefix } : null;
      pool = await MediaPool.start(config.mediaWorkers, {
        log: logger,
        metrics,
        settings: {
          writeCoalescing: config.writeCoalescing,
          directWrites: config.directWrites,
          opusComplexity: config.opusComplexity,
          logLevel: config.logLevel,
          nats,
        },
        entry: mediaWorkerEntry(),
        bus,
        hub: bus instanceof BusHub ? bus : null,
      });
      logger.info({ workers: pool.size }, 'media workers started');
    }
  } catch (err) {
    await bus.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  // Sockets opened in this process (no media workers) join this registry.
  const registry = new LiveRegistry({
    bus,
    clock,
    metrics,
    log: logger,
    writeCoalescing: config.writeCoalescing,
    directWrites,
    opusComplexity: config.opusComplexity,
  });
  const live = new ClusterCallStats(bus);
  const authFailures = new AuthFailureLimiter(config.authFailuresPerMin, metrics);
  const quotas = new SocketQuotas(config.limits, metrics);
  const touchCall = (pk: string) => {
    store.touchCalls([pk]).catch((err) => logger.warn({ err }, 'could not record ingest activity'));
  };
  // RTP ports stay in this process, also with media workers (their frames reach the call's worker
  // through the bus), so the node that answered POST …/rtp is the one that receives.
  const rtp =
    config.rtp === null
      ? null
      : new RtpPorts({
          host: config.rtp.host,
          ports: config.rtp.ports,
          idleTimeoutMs: config.rtp.idleTimeoutS * 1000,
          registry,
          bus,
          metrics,
          logger,
          admitParticipant: (callPk, participant) =>
            checkParticipants({ live, quotas }, callPk, [participant]),
          touchCall,
        });
  if (config.rtp !== null)
    logger.info(
      { host: config.rtp.host, ports: config.rtp.ports, capacity: rtp?.capacity },
      'RTP ports ready',
    );
  const deps: AppDeps = {
    config,
    store,
    bus,
    lifecycle,
    live,
    metrics,
    logger,
    authFailures,
    // With media workers this clock mixes nothing and never runs: requests never wait.
    audioClock: clock,
    rtp,
  };

  const app = await buildApp(deps);
  const wsDeps = { ...deps, registry, pool, touchCall, quotas };
  pool?.serve(localControlPlane(wsDeps));
  const sockets = attachWebSockets(app.server, wsDeps);
  // What this node has live: in its media workers, or in this process.
  const liveHere = pool ?? registry;
  // Before the HTTP server stops accepting: close every socket with 1001 so that close can finish.
  app.addHook('preClose', () => sockets.shutdown());
  const stopSweeper = startIdleSweeper({
    store,
    lifecycle,
    idleTimeoutS: config.callIdleTimeoutS,
    log: logger,
  });
  const stopHeartbeat = startActivityHeartbeat({
    store,
    registry: liveHere,
    idleTimeoutS: config.callIdleTimeoutS,
    log: logger,
  });
  // The bus is at-most-once: calls that ended unheard (e.g. during a NATS outage) are found in the store.
  const reconciler = startCallReconciler({
    store,
    bus,
    live: liveHere,
    log: logger,
  });
  const stopReconnectHook = bus.onReconnect(() => reconciler.reconcileSoon());
  const stopWorkerReconnectHook = pool?.onWorkerReconnect(() => reconciler.reconcileSoon());
  let address: string;
  let metricsServer: { url: string; close(): Promise<void> } | null = null;
  let audiosocketServer: { host: string; port: number; close(): Promise<void> } | null = null;
  try {
    if (config.audiosocket !== null) {
      audiosocketServer = await startAudioSocketServer({
        ...config.audiosocket,
        media: { registry, bus, metrics, logger, control: localControlPlane(wsDeps) },
        quotas,
        logger,
      });
    }
    if (config.metricsListen !== null) {
      metricsServer = await startMetricsServer({
        ...config.metricsListen,
        metrics,
        token: config.metricsToken,
        authFailures,
      });
      logger.info({ url: `${metricsServer.url}/metrics` }, 'metrics served on their own address');
    }
    address = await app.listen({
      host: config.host,
      port: config.port,
      // Node's default accept queue is 511: a storm of thousands of listeners connecting at once
      // overflows it, and each dropped SYN is retried only after 1, 3, 7 … s. The kernel caps
      // this at net.core.somaxconn (4096 on current Linux).
      backlog: LISTEN_BACKLOG,
      listenTextResolver: (addr) => `earshot listening on ${addr}`,
    });
  } catch (err) {
    rtp?.close();
    await audiosocketServer?.close();
    await metricsServer?.close();
    stopSweeper();
    stopHeartbeat();
    reconciler.stop();
    stopReconnectHook();
    stopWorkerReconnectHook?.();
    await app.close().catch(() => {});
    await pool?.stop();
    await bus.close().catch(() => {});
    await store.close().catch(() => {});
    throw err;
  }
  const port = new URL(address).port;

  let closing: Promise<void> | undefined;
  return {
    url: address,
    port: Number(port),
    app,
    deps,
    metricsUrl: metricsServer === null ? null : `${metricsServer.url}/metrics`,
    audiosocket:
      audiosocketServer === null ? null : { host: audiosocketServer.host, port: audiosocketServer.port },
    close() {
      closing ??= (async () => {
        stopSweeper();
        stopHeartbeat();
        reconciler.stop();
        stopReconnectHook();
        stopWorkerReconnectHook?.();
        rtp?.close();
        await audiosocketServer?.close();
        await app.close();
        await metricsServer?.close();
        await pool?.stop();
        clock.stop();
        await bus.close();
        await store.close();
      })();
      return closing;
    },
  };
}

/** Connections the kernel may hold completed but not yet accepted (see `listen`). */
const LISTEN_BACKLOG = 65_535;

/** The in-process bus for one node; NATS when EARSHOT_NATS_URL names servers (fails fast when unreachable). */
async function createBus(config: Config, logger: Logger, metrics: Metrics): Promise<Bus> {
  if (config.natsServers.length === 0) {
    const onHandlerError = (err: unknown) => logger.error({ err }, 'bus handler failed');
    // With media workers the bus is this process's relay between them.
    return config.mediaWorkers > 0 ? new BusHub({ onHandlerError }) : new MemoryBus({ onHandlerError });
  }
  const dropped = {
    bus_unavailable: metrics.framesDropped.labels('bus_unavailable'),
    bus_backlog: metrics.framesDropped.labels('bus_backlog'),
    bus_malformed: metrics.framesDropped.labels('bus_malformed'),
  };
  const bus = await NatsBus.connect({
    servers: config.natsServers,
    prefix: config.natsPrefix,
    log: logger,
    onFrameDropped: (reason) => dropped[reason].inc(),
  });
  logger.info({ servers: config.natsServers, prefix: config.natsPrefix }, 'connected to NATS');
  return bus;
}
