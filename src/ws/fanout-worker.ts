/**
 * A fan-out worker process (`EARSHOT_FANOUT_WORKERS` > 0): owns a share of the node's listener
 * sockets and writes to them the messages the main process mixes and frames. The main process
 * checks each listener before the upgrade and passes the raw socket here, where `ws` completes the
 * handshake; from then on this process does for its listeners what the main process does for its
 * own: the backlog check, drops and eviction (`Listener`), write coalescing under load, keepalive
 * pings and the close handshake. Entry point: forked by `FanoutPool`, never run by hand.
 */
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { CloseCode } from '../domain/error-code.js';
import { DirectWriteBatch } from '../live/direct-write.js';
import {
  type FromWorker,
  parseWorkerSettings,
  type ToWorker,
  unpackFrames,
} from '../live/fanout-protocol.js';
import {
  LISTENER_MAX_PAYLOAD_BYTES,
  Listener,
  listenerPolicy,
  type SendCounts,
  sendToAll,
} from '../live/listener.js';
import { TickWriter, WriteCoalescingPolicy } from '../live/write-coalescing.js';
import { installProcessGuard } from '../observability/process-guard.js';
import { closeSockets } from './close-sockets.js';
import { Keepalive } from './keepalive.js';
import { guardListenerSocket } from './socket-guard.js';

/** Stats go to the main process every this many ticks (200 ms). */
const STATS_EVERY_BATCHES = 10;
const TICK_MS = 20;

/** To the main process; nothing once the channel is gone (a send then would raise an `error` event). */
const send = (message: FromWorker) => {
  if (process.connected) process.send?.(message);
};
const settings = parseWorkerSettings(process.argv[2]);

const wss = new WebSocketServer({
  noServer: true,
  perMessageDeflate: false,
  maxPayload: LISTENER_MAX_PAYLOAD_BYTES,
});
const keepalive = new Keepalive();
const listeners = new Map<number, Listener>();
const groups = new Map<number, Set<Listener>>();
// Same batching and writes as the main process's own listeners, on this process's load.
const batch = DirectWriteBatch.create(settings.directWrites);
const writer = new TickWriter(
  new WriteCoalescingPolicy(settings.writeCoalescing),
  (visit) => {
    for (const group of groups.values()) for (const listener of group) visit(listener);
  },
  batch,
);
let batches = 0;
const stats: SendCounts = { sent: 0, dropped: 0, evicted: 0 };

function adopt(message: Extract<ToWorker, { t: 'listener' }>, socket: Socket | undefined): void {
  if (!socket) return void send({ t: 'closed', id: message.id });
  socket.on('error', () => socket.destroy());
  const request = { method: 'GET', url: message.url, headers: message.headers };
  let upgraded = false;
  socket.once('close', () => {
    if (!upgraded) send({ t: 'closed', id: message.id });
  });
  wss.handleUpgrade(
    request as unknown as import('node:http').IncomingMessage,
    socket,
    Buffer.from(message.head),
    (ws) => {
      upgraded = true;
      keepalive.watch(ws);
      guardListenerSocket(ws, (reason) => send({ t: 'socketError', reason }));
      const listener = new Listener(ws, message.format, listenerPolicy(message.format));
      let group = groups.get(message.group);
      if (!group) groups.set(message.group, (group = new Set()));
      group.add(listener);
      listeners.set(message.id, listener);
      listener.onClose(() => {
        listeners.delete(message.id);
        group.delete(listener);
        if (group.size === 0 && groups.get(message.group) === group) groups.delete(message.group);
        send({ t: 'closed', id: message.id });
      });
    },
  );
}

function writeTick(message: Extract<ToWorker, { t: 'frames' }>): void {
  writer.write(message.seq, 0, () => {
    // Ticks the main process dropped while this process was behind: each listener lost that audio.
    if (message.skipped > 0) for (const l of listeners.values()) l.addGap(message.skipped * TICK_MS);
    const nowMs = Date.now();
    unpackFrames(message.batch, (key, frame) => {
      const group = groups.get(key);
      if (group) sendToAll(group, frame, nowMs, stats, batch);
    });
  });
  send({ t: 'ack', seq: message.seq });
  if (++batches >= STATS_EVERY_BATCHES) reportStats();
}

function reportStats(): void {
  batches = 0;
  if (stats.sent + stats.dropped + stats.evicted === 0) return;
  send({ t: 'stats', ...stats });
  stats.sent = stats.dropped = stats.evicted = 0;
}

async function shutdown(): Promise<void> {
  keepalive.stop();
  reportStats();
  for (const l of listeners.values()) l.close(CloseCode.GOING_AWAY, 'server shutting down');
  await closeSockets(wss.clients, CloseCode.GOING_AWAY, 'server shutting down');
  process.exit(0);
}

process.on('message', (message: ToWorker, handle?: Socket) => {
  switch (message.t) {
    case 'frames':
      return writeTick(message);
    case 'listener':
      return adopt(message, handle);
    case 'event':
      return listeners.get(message.id)?.sendEvent(message.event);
    case 'close':
      return listeners.get(message.id)?.close(message.code, message.reason);
    case 'shutdown':
      return void shutdown();
  }
});
installProcessGuard((err, origin, logIt) => {
  send({ t: 'uncaught' });
  if (logIt)
    console.error(`earshot fan-out worker ${process.pid}: unexpected error (${origin}); still serving`, err);
});
// Without the main process there is nothing to do: its sockets' owner is gone.
process.on('disconnect', () => process.exit(0));
send({ t: 'ready' });
