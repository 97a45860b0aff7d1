/**
 * A media worker process (`EARSHOT_MEDIA_WORKERS` > 0): owns the whole real-time path of the calls
 * the control plane places on it — ingest sockets, jitter buffers, mixing, encoding and listener
 * sockets — on its own event loop and clock. The main process checks and admits every socket, then
 * passes the raw socket here with what it was admitted as; `ws` completes the handshake and the
 * same endpoint code as in one process takes over. What needs the database (a platform's start, a
 * call's end, activity) is asked of the main process (`ControlPlane` over the channel). Entry
 * point: forked by `MediaPool`, never run by hand.
 */
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Bus } from '../bus/bus.js';
import { IpcBus } from '../bus/ipc-bus.js';
import { NatsBus } from '../bus/nats-bus.js';
import { AppError } from '../domain/app-error.js';
import { CloseCode } from '../domain/error-code.js';
import { MAX_GENERIC_INGEST_MESSAGE_BYTES } from '../ingest/generic-audio-message.js';
import { WEBSOCKET_PLATFORMS } from '../ingest/platforms.js';
import { Clock } from '../live/clock.js';
import type { ControlPlane, ListenerStatus, StreamGrant } from '../live/control-plane.js';
import { DirectWriteBatch } from '../live/direct-write.js';
import { LISTENER_MAX_PAYLOAD_BYTES } from '../live/listener.js';
import { LiveRegistry } from '../live/live-registry.js';
import {
  type ControlRequest,
  type FromMediaWorker,
  fromWireError,
  parseMediaWorkerSettings,
  type SocketGrant,
  type SocketItem,
  type ToMediaWorker,
} from '../live/media-protocol.js';
import { SocketPassing } from '../live/socket-passing.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { installProcessGuard } from '../observability/process-guard.js';
import { closeSockets } from './close-sockets.js';
import { acceptGenericIngest } from './generic-ingest-endpoint.js';
import { INGEST_PER_MESSAGE_DEFLATE } from './handshake.js';
import { Keepalive } from './keepalive.js';
import { acceptListener } from './listen-endpoint.js';
import type { MediaDeps } from './media-deps.js';
import { acceptPlatformStream } from './platform-endpoint.js';

/** To the main process; nothing once the channel is gone (a send then would raise an `error` event). */
const send = (message: FromMediaWorker) => {
  if (process.connected) process.send?.(message);
};

const settings = parseMediaWorkerSettings(process.argv[2]);
/** Its end of the socket pair sockets arrive on in batches (MediaPool); -1: one IPC handle each. */
const channel = process.argv[3] ? Number(process.argv[3]) : -1;
const passing = channel >= 0 ? SocketPassing.load() : null;
const logger = createLogger(settings.logLevel).child({ mediaWorker: process.pid });
const metrics = new Metrics();

/** Requests to the control plane, answered in order of arrival by id. */
const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (err: unknown) => void }>();
let nextRequest = 1;
function request<T>(req: ControlRequest): Promise<T> {
  const id = nextRequest++;
  return new Promise<T>((resolve, reject) => {
    if (!process.connected) return reject(new AppError('SERVICE_UNAVAILABLE', 'Server shutting down'));
    waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
    send({ t: 'request', id, request: req });
  });
}
const control: ControlPlane = {
  touchCall: (callPk) => send({ t: 'touch', callPk }),
  completeCall: (call) => request<void>({ op: 'completeCall', call }),
  authorizeStream: (address, start, socketId = 0) =>
    request<StreamGrant>({ op: 'authorizeStream', address, start, socketId }),
  listenerStatus: (callPk, tokenHash) => request<ListenerStatus>({ op: 'listenerStatus', callPk, tokenHash }),
};

const ipcBus = settings.nats
  ? null
  : new IpcBus(
      (m) => send({ t: 'bus', m }),
      (err) => logger.error({ err }, 'bus handler failed'),
    );
const bus: Bus =
  ipcBus ??
  (await NatsBus.connect({
    servers: [...(settings.nats?.servers ?? [])],
    prefix: settings.nats?.prefix ?? 'earshot',
    log: logger,
    onFrameDropped: (reason) => metrics.framesDropped.inc({ reason }),
  }));
bus.onReconnect(() => send({ t: 'reconnected' }));

const clock = new Clock({
  // One poll before a catch-up burst: ingest frames that waited are read first, and a handshake storm
  // is drained once per burst (see ClockOptions).
  poll: 'once',
  onTick: (durationMs) => metrics.mixLatency.observe(durationMs / 1000),
  onSkip: (ticks) => logger.warn({ ticks }, 'event loop stalled: skipped mixer ticks'),
  onHandlerError: (err) => logger.error({ err }, 'mixer tick failed'),
});
const directWrites = DirectWriteBatch.create(settings.directWrites, (err) =>
  logger.warn({ err: err.message }, 'native addon not built: listener messages go through each socket'),
);
metrics.directWrites.set(directWrites ? 1 : 0);
const registry = new LiveRegistry({
  bus,
  clock,
  metrics,
  log: logger,
  writeCoalescing: settings.writeCoalescing,
  directWrites,
  opusComplexity: settings.opusComplexity,
});
const deps: MediaDeps = { registry, bus, metrics, logger, control };

const options = { noServer: true, perMessageDeflate: false } as const;
const ingestOptions = { ...options, perMessageDeflate: { ...INGEST_PER_MESSAGE_DEFLATE } };
const servers: Record<Exclude<SocketGrant['kind'], 'stream'>, WebSocketServer> = {
  listener: new WebSocketServer({ ...options, maxPayload: LISTENER_MAX_PAYLOAD_BYTES }),
  ingest: new WebSocketServer({ ...ingestOptions, maxPayload: MAX_GENERIC_INGEST_MESSAGE_BYTES }),
};
/** One server per platform: each has its own largest message. */
const streamServers = new Map(
  WEBSOCKET_PLATFORMS.map((p) => [
    p.name,
    new WebSocketServer({ ...ingestOptions, maxPayload: p.maxMessageBytes }),
  ]),
);
const keepalive = new Keepalive();

/** A batch of sockets: the next record on the socket pair holds their descriptors, in order. */
function adoptBatch(items: readonly SocketItem[]): void {
  const fds = passing ? passing.receive(channel) : Number.NaN;
  if (typeof fds === 'number' || fds.length !== items.length) {
    logger.error(
      { expected: items.length, got: fds },
      'socket batch and descriptors disagree: dropping the batch',
    );
    if (typeof fds !== 'number') for (const fd of fds) passing?.close(fd);
    for (const item of items) send({ t: 'closed', id: item.id });
    return;
  }
  for (const [i, item] of items.entries()) backlog.push({ item, fd: fds[i] });
  if (backlog.length === items.length) setImmediate(drainBacklog);
}

/**
 * Passed sockets waiting for their handshake. A storm arrives in records of up to 250: they are
 * opened HANDSHAKES_PER_TURN at a time, one batch per turn of the event loop, so that the mixer's
 * tick (a timer) runs between batches instead of after all of them.
 */
const backlog: { item: SocketItem; fd: number }[] = [];
const HANDSHAKES_PER_TURN = 64;

function drainBacklog(): void {
  for (const { item, fd } of backlog.splice(0, HANDSHAKES_PER_TURN)) {
    let socket: Socket;
    try {
      socket = new Socket({ fd, readable: true, writable: true });
    } catch (err) {
      logger.warn({ err }, 'could not open a passed socket');
      passing?.close(fd);
      send({ t: 'closed', id: item.id });
      continue;
    }
    adopt(item, socket);
  }
  if (backlog.length > 0) setImmediate(drainBacklog);
}

function adopt(message: SocketItem, socket: Socket | undefined): void {
  const { id, grant } = message;
  if (!socket) return void send({ t: 'closed', id });
  socket.on('error', () => socket.destroy());
  socket.once('close', () => send({ t: 'closed', id }));
  const request = { method: 'GET', url: message.url, headers: message.headers };
  const wss = grant.kind === 'stream' ? streamServers.get(grant.platform) : servers[grant.kind];
  if (!wss) return void socket.destroy();
  wss.handleUpgrade(request as unknown as IncomingMessage, socket, Buffer.from(message.head), (ws) => {
    keepalive.watch(ws);
    if (grant.kind === 'listener') acceptListener(deps, ws, grant);
    else if (grant.kind === 'ingest') acceptGenericIngest(deps, ws, grant);
    else {
      const query = new URL(message.url, 'http://localhost').searchParams;
      acceptPlatformStream(deps, ws, grant, { query, headers: message.headers }, id);
    }
  });
}

async function shutdown(): Promise<void> {
  keepalive.stop();
  registry.closeAll(CloseCode.GOING_AWAY, 'server shutting down');
  const clients = [...Object.values(servers), ...streamServers.values()].flatMap((wss) => [...wss.clients]);
  await closeSockets(clients, CloseCode.GOING_AWAY, 'server shutting down');
  clock.stop();
  await bus.close().catch(() => {});
  process.exit(0);
}

process.on('message', (message: ToMediaWorker, handle?: Socket) => {
  switch (message.t) {
    case 'socket':
      return adopt(message, handle);
    case 'sockets':
      return adoptBatch(message.items);
    case 'bus':
      return ipcBus?.receive(message.m);
    case 'reply': {
      const pending = waiting.get(message.id);
      if (!pending) return;
      waiting.delete(message.id);
      if (message.error) pending.reject(fromWireError(message.error));
      else pending.resolve(message.value);
      return;
    }
    case 'metrics?':
      return void metrics.registry
        .getMetricsAsJSON()
        .then((json) => send({ t: 'metrics', id: message.id, metrics: json }));
    case 'shutdown':
      return void shutdown();
  }
});
installProcessGuard((err, origin, logIt) => {
  send({ t: 'uncaught' });
  if (logIt) logger.error({ err, origin }, 'unexpected error; still serving');
});
// Without the main process there is nothing to do: its sockets' owner is gone.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
