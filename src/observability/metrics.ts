import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';

/**
 * The process's Prometheus metrics, on a private registry (so that several servers in one test
 * process do not collide). Hot-path counters are plain prom-client counters: an `inc()` is a few
 * property writes, cheap enough at 50 frames/s per track.
 */
export class Metrics {
  /** earshot's own metrics: rendered fresh on every scrape. */
  readonly registry = new Registry();
  /** Node's process metrics (prefixed `earshot_`): the costly part of a render, kept a second. */
  readonly #process = new Registry();
  readonly #processText = new Recent<string>();
  /** The database's count of active calls, read at most once per PROCESS_METRICS_TTL_MS. */
  readonly #activeCallsCount = new Recent<number>();
  readonly activeCalls: Gauge;
  readonly participants: Gauge;
  readonly listeners: Gauge;
  readonly framesIn: Counter;
  readonly framesOut: Counter;
  readonly framesDropped: Counter<'reason'>;
  readonly ingestErrors: Counter<'code'>;
  /** By ingest endpoint (`generic` or a platform's name): connections admitted, frames, errors. */
  readonly ingestConnections: Counter<'platform'>;
  readonly ingestPlatformFrames: Counter<'platform'>;
  /** The frame counts behind `ingestPlatformFrames`, by platform (PlainCounts: once per frame). */
  readonly #platformFrames = new PlainCounts();
  readonly ingestPlatformErrors: Counter<'platform' | 'code'>;
  readonly mixLatency: Histogram;
  readonly writeCoalescing: Gauge;
  readonly directWrites: Gauge;
  readonly socketErrors: Counter<'socket' | 'reason'>;
  readonly uncaughtErrors: Counter;
  readonly authFailures: Counter<'outcome'>;
  readonly quotaRefusals: Counter<'limit'>;
  /** RTP ports (SPEC §4.6) bound on this node, and what became of each datagram they received. */
  readonly rtpPorts: Gauge;
  readonly rtpDatagrams: Counter<'outcome'>;
  /** The counts behind `rtpDatagrams`, by outcome (PlainCounts: once per datagram). */
  readonly #rtpOutcomes = new PlainCounts();

  /** The media workers' metrics, merged into each scrape (set by the control plane). */
  #remote: RemoteMetrics | null = null;

  /**
   * `countActiveCalls`: the database's count (the control plane's). A media worker has none: its
   * metrics are merged into the main process's, which counts.
   */
  constructor(options: { countActiveCalls?: () => Promise<number> } = {}) {
    const registers = [this.registry];
    const countActiveCalls = options.countActiveCalls;
    if (countActiveCalls)
      collectDefaultMetrics({
        register: this.#process,
        prefix: 'earshot_',
        eventLoopMonitoringPrecision: 10,
      });
    const counted = this.#activeCallsCount;
    this.activeCalls = new Gauge({
      name: 'earshot_active_calls',
      help: 'Calls with status active (cluster-wide, from the database, at most 1 s old)',
      registers: countActiveCalls ? registers : [],
      async collect() {
        if (!countActiveCalls) return;
        try {
          this.set(await counted.get(countActiveCalls));
        } catch {
          // Leave the last value: a scrape must not fail because the database blinked.
        }
      },
    });
    this.participants = new Gauge({
      name: 'earshot_participants',
      help: 'Participants with ingest connected to this node',
      registers,
    });
    this.listeners = new Gauge({
      name: 'earshot_listeners',
      help: 'Listener sockets open on this node',
      registers,
    });
    this.framesIn = new Counter({
      name: 'earshot_frames_in_total',
      help: '20 ms participant frames received by ingest on this node',
      registers,
    });
    this.framesOut = new Counter({
      name: 'earshot_frames_out_total',
      help: 'Listener messages written on this node',
      registers,
    });
    this.framesDropped = new Counter({
      name: 'earshot_frames_dropped_total',
      help: 'Frames dropped on this node, by reason (listener_backlog, track_overflow, bus_unavailable, …)',
      labelNames: ['reason'],
      registers,
    });
    this.ingestErrors = new Counter({
      name: 'earshot_ingest_errors_total',
      help: 'Ingest connections refused or closed for bad input, by error code',
      labelNames: ['code'],
      registers,
    });
    this.ingestConnections = new Counter({
      name: 'earshot_ingest_connections_total',
      help: 'Ingest connections that began streaming on this node, by platform (generic, twilio, telnyx, …)',
      labelNames: ['platform'],
      registers,
    });
    const platformFrames = this.#platformFrames;
    this.ingestPlatformFrames = new Counter({
      collect() {
        platformFrames.collectInto(this, 'platform');
      },
      name: 'earshot_ingest_platform_frames_total',
      help: '20 ms participant frames received by ingest on this node, by platform',
      labelNames: ['platform'],
      registers,
    });
    this.ingestPlatformErrors = new Counter({
      name: 'earshot_ingest_platform_errors_total',
      help: 'Ingest connections refused or closed for bad input, by platform and error code',
      labelNames: ['platform', 'code'],
      registers,
    });
    this.mixLatency = new Histogram({
      name: 'earshot_mix_latency_seconds',
      help: 'Time to mix and fan out one 20 ms tick of every call on this node',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05],
      registers,
    });
    this.writeCoalescing = new Gauge({
      name: 'earshot_write_coalescing',
      help: "Mixer ticks whose listener messages go out in one write (1: every tick; see EARSHOT_WRITE_COALESCING); the highest of the node's processes",
      registers,
      aggregator: 'max',
    });
    this.directWrites = new Gauge({
      name: 'earshot_direct_writes',
      help: '1 when listener messages are written through the native addon (see EARSHOT_DIRECT_WRITES), else 0',
      registers,
      aggregator: 'max',
    });
    this.socketErrors = new Counter({
      name: 'earshot_socket_errors_total',
      help: 'Sockets closed for a protocol violation or socket error, by socket kind and reason (ws error code, unexpected_message, inbound_flood, …)',
      labelNames: ['socket', 'reason'],
      registers,
    });
    this.uncaughtErrors = new Counter({
      name: 'earshot_uncaught_errors_total',
      help: 'Errors that reached the process-level guard (logged; the process keeps serving)',
      registers,
    });
    this.authFailures = new Counter({
      name: 'earshot_auth_failures_total',
      help: 'Failed authentications (counted), and requests refused because their address failed too often (limited)',
      labelNames: ['outcome'],
      registers,
    });
    this.rtpPorts = new Gauge({
      name: 'earshot_rtp_ports',
      help: 'RTP ports allocated on this node (POST /v1/calls/{id}/rtp), until released',
      registers,
    });
    const rtpOutcomes = this.#rtpOutcomes;
    this.rtpDatagrams = new Counter({
      collect() {
        rtpOutcomes.collectInto(this, 'outcome');
      },
      name: 'earshot_rtp_datagrams_total',
      help: 'Datagrams received on RTP ports, by outcome: audio and late (used); duplicate, stray, before_start, other_source, invalid, refused, ignored (dropped)',
      labelNames: ['outcome'],
      registers,
    });
    this.quotaRefusals = new Counter({
      name: 'earshot_quota_refusals_total',
      help: 'Requests and connections refused with QUOTA_EXCEEDED, by limit',
      labelNames: ['limit'],
      registers,
    });
  }

  /** The frame count of one platform's ingest, to increment once per participant frame (`count++`). */
  platformFrameCount(platform: string): { count: number } {
    return this.#platformFrames.of(platform);
  }

  /** The count behind `earshot_rtp_datagrams_total{outcome}`, to increment once per datagram. */
  rtpOutcomeCount(outcome: string): { count: number } {
    return this.#rtpOutcomes.of(outcome);
  }

  /** This node created or completed a call: the next scrape counts active calls again. */
  activeCallsChanged(): void {
    this.#activeCallsCount.forget();
  }

  /**
   * The Prometheus text: earshot's own metrics as they are now, then Node's process metrics as
   * rendered at most PROCESS_METRICS_TTL_MS ago. Those are most of a render's cost (the event-loop
   * lag percentiles, heap spaces, /proc), so a flood of scrapes cannot load the event loop — and the
   * audio on it — while every counter a scrape reads is never older than its own request.
   */
  async render(): Promise<string> {
    const [own, processText] = await Promise.all([
      this.#renderOwn(),
      this.#processText.get(() => this.#process.metrics()),
    ]);
    return `${own}\n${processText}`;
  }

  /**
   * Merges what `source` returns (each media worker's `registry.getMetricsAsJSON()`) into every
   * scrape: counters, histograms and gauges add up (the two mode gauges take the highest value).
   * Null: this process's own metrics only.
   */
  setRemoteMetrics(source: RemoteMetrics | null): void {
    this.#remote = source;
  }

  async #renderOwn(): Promise<string> {
    const remote = this.#remote;
    if (!remote) return this.registry.metrics();
    const [own, others] = await Promise.all([this.registry.getMetricsAsJSON(), remote()]);
    const all = [own, ...(others as MetricObjectWithValues<MetricValue<string>>[][])];
    return AggregatorRegistry.aggregate(all.filter((m) => m.length > 0)).metrics();
  }
}

/** Other processes' metrics, as prom-client JSON (one array per process). */
export type RemoteMetrics = () => Promise<unknown[][]>;

/** How long Node's process metrics are served again (Prometheus scrapes every 15–60 s). */
const PROCESS_METRICS_TTL_MS = 1000;

/** A value read at most once per PROCESS_METRICS_TTL_MS and shared meanwhile (a failed read is not kept). */
class Recent<T> {
  #value: { at: number; promise: Promise<T> } | null = null;

  get(read: () => Promise<T>): Promise<T> {
    const now = performance.now();
    if (this.#value === null || now - this.#value.at >= PROCESS_METRICS_TTL_MS) {
      const promise = read();
      this.#value = { at: now, promise };
      promise.catch(() => {
        if (this.#value?.promise === promise) this.#value = null;
      });
    }
    return this.#value.promise;
  }

  forget(): void {
    this.#value = null;
  }
}

/**
 * Counts by one label's value kept as plain numbers, for what happens once per frame or datagram:
 * a labelled prom-client child's inc() costs ~130 ns (its labels hashed on every call), a field
 * increment ~1 ns. The counter that exposes them reads them at each scrape (`collectInto`).
 */
class PlainCounts {
  readonly #counts = new Map<string, { count: number }>();

  /** The count of one label value, created at 0: increment its `count`. */
  of(value: string): { count: number } {
    let counted = this.#counts.get(value);
    if (!counted) {
      counted = { count: 0 };
      this.#counts.set(value, counted);
    }
    return counted;
  }

  collectInto(counter: Counter<string>, label: string): void {
    counter.reset();
    for (const [value, counted] of this.#counts) counter.inc({ [label]: value }, counted.count);
  }
}
