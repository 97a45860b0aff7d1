import { randomUUID } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { CloseCode } from '../domain/error-code.js';
import {
  RtpDatagramParser,
  type RtpFormat,
  RtpOrder,
  RtpSequencer,
  RtpSourceLatch,
  rtpWireFormat,
} from '../ingest/rtp.js';
import type { Metrics } from '../observability/metrics.js';
import type { IngestConnection } from './call-presence.js';
import { IngestDecoder } from './ingest-decoder.js';
import { type IngestTrack, publishingTrack } from './ingest-track.js';
import type { LiveRegistry } from './live-registry.js';

/** What `POST /v1/calls/{id}/rtp` asks for (SPEC §4.6). */
export interface RtpRequest {
  readonly call: Call;
  readonly participant: string;
  readonly format: RtpFormat;
  /** The API key that asked: revoking it releases the port (as it closes the sockets it opened). */
  readonly keyPrefix: string | null;
}

/** The port handed out; the answer's host is the route's (EARSHOT_RTP_HOST). */
export interface RtpPortGrant {
  readonly port: number;
  readonly format: RtpFormat;
  readonly participant: string;
}

export interface RtpPortsOptions {
  /** The address every RTP socket binds to. */
  readonly host: string;
  /** Inclusive; only its even ports are handed out (RTCP goes to the odd one above, RFC 3550 §11). */
  readonly ports: { readonly first: number; readonly last: number };
  /** A port without an admitted packet for this long is released and its participant ends. */
  readonly idleTimeoutMs: number;
  readonly registry: LiveRegistry;
  readonly bus: Bus;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Throws when the call may not take this participant (SPEC §7, participants per call). */
  readonly admitParticipant: (callPk: string, participant: string) => Promise<void>;
  /** Records ingest activity on the call (keeps it from idling out). */
  readonly touchCall: (callPk: string) => void;
}

type Outcome =
  | 'audio'
  | 'late'
  | 'duplicate'
  | 'stray'
  | 'before_start'
  | 'other_source'
  | 'invalid'
  | 'refused'
  | 'ignored';
const OUTCOMES: readonly Outcome[] = [
  'audio',
  'late',
  'duplicate',
  'stray',
  'before_start',
  'other_source',
  'invalid',
  'refused',
  'ignored',
];

/**
 * RTP ingest (SPEC §4.6): a pool of UDP ports, one per participant asked for by
 * `POST /v1/calls/{id}/rtp`, each bound when it is handed out and closed when released. What a
 * port receives goes through src/ingest/rtp.ts — the datagram parser, the source latch, the
 * sequencer — into the participant's track by position (IngestTrack.writeAt), so reordering and
 * loss are the call's jitter buffer's to handle, as for every other transport.
 *
 * A port is an ingest connection of its call on this node (LiveRegistry): the call's end, the
 * participant taken over by a newer connection, the key revoked, or `idleTimeoutMs` without a
 * packet from its source (from the allocation, before the first) release it. Ports live in the
 * process that allocated them — the main process, also with media workers (their frames reach the
 * call's worker through the bus) — so in a cluster the node that answered the request receives the
 * audio. Ports are handed out round-robin, so a port just released is the last to be reused (a
 * sender still streaming to it would otherwise latch onto the next call).
 */
export class RtpPorts {
  readonly #options: RtpPortsOptions;
  readonly #open = new Map<number, RtpPort>();
  /** Ports being bound (reserved until the bind settles). */
  readonly #binding = new Set<number>();
  readonly #outcomes: Readonly<Record<Outcome, { count: number }>>;
  readonly #evenPorts: number;
  #cursor = 0;
  #sweep: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: RtpPortsOptions) {
    this.#options = options;
    const first = options.ports.first + (options.ports.first % 2);
    this.#evenPorts = first > options.ports.last ? 0 : Math.floor((options.ports.last - first) / 2) + 1;
    if (this.#evenPorts === 0) throw new RangeError('the RTP port range holds no even port');
    // One count per datagram: plain fields, read by the counter at each scrape (a labelled
    // child's inc() hashes its labels every time).
    this.#outcomes = Object.fromEntries(
      OUTCOMES.map((outcome) => [outcome, options.metrics.rtpOutcomeCount(outcome)]),
    ) as Record<Outcome, { count: number }>;
  }

  /** Ports that can be handed out in all. */
  get capacity(): number {
    return this.#evenPorts;
  }

  /** Ports handed out and not yet released. */
  get inUse(): number {
    return this.#open.size;
  }

  /**
   * Binds a free port for the participant and returns it. Throws SERVICE_UNAVAILABLE when every
   * port of the range is taken (here or by another program), and what `admitParticipant` throws.
   */
  async allocate(request: RtpRequest): Promise<RtpPortGrant> {
    if (this.#closed) throw new AppError('SERVICE_UNAVAILABLE', 'RTP ports are shutting down');
    await this.#options.admitParticipant(request.call.pk, request.participant);
    const { socket, port } = await this.#bindFree();
    if (this.#closed) {
      socket.close();
      throw new AppError('SERVICE_UNAVAILABLE', 'RTP ports are shutting down');
    }
    const rtp = new RtpPort(this.#options, request, socket, port, this.#outcomes, () => this.#released(rtp));
    this.#open.set(port, rtp);
    this.#options.metrics.rtpPorts.inc();
    this.#options.registry.addIngest(request.call.pk, rtp);
    this.#sweep ??= setInterval(() => this.#closeIdle(), Math.min(1000, this.#options.idleTimeoutMs / 4));
    this.#sweep.unref();
    this.#options.logger.debug(
      { callPk: request.call.pk, participant: request.participant, format: request.format, port },
      'RTP port allocated',
    );
    return { port, format: request.format, participant: request.participant };
  }

  /** Releases every port (server shutdown). */
  close(): void {
    this.#closed = true;
    for (const rtp of [...this.#open.values()]) rtp.close(CloseCode.GOING_AWAY, 'server shutting down');
    this.#stopSweep();
  }

  async #bindFree(): Promise<{ socket: Socket; port: number }> {
    const { first } = this.#options.ports;
    const base = first + (first % 2);
    for (let tried = 0; tried < this.#evenPorts; tried++) {
      const port = base + 2 * this.#cursor;
      this.#cursor = (this.#cursor + 1) % this.#evenPorts;
      if (this.#open.has(port) || this.#binding.has(port)) continue;
      this.#binding.add(port);
      try {
        return { socket: await bindUdp(this.#options.host, port), port };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Another program holds it (or may not give it up): the next one.
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
      } finally {
        this.#binding.delete(port);
      }
    }
    throw new AppError('SERVICE_UNAVAILABLE', 'No RTP port is free on this node');
  }

  #released(rtp: RtpPort): void {
    if (this.#open.get(rtp.port) !== rtp) return;
    this.#open.delete(rtp.port);
    this.#options.metrics.rtpPorts.dec();
    this.#options.registry.removeIngest(rtp.call.pk, rtp);
    if (this.#open.size === 0) this.#stopSweep();
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const rtp of [...this.#open.values()]) {
      if (now - rtp.lastPacketAt >= this.#options.idleTimeoutMs)
        rtp.close(CloseCode.NORMAL, `no RTP for ${Math.round(this.#options.idleTimeoutMs / 1000)} s`);
    }
  }

  #stopSweep(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = null;
  }
}

/** A UDP socket bound to host:port (udp6 for an IPv6 address), or the bind's error. */
function bindUdp(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' });
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => {
      socket.close();
      reject(err);
    };
    socket.once('error', failed);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', failed);
      resolve(socket);
    });
  });
}

/**
 * One allocated port: one participant of one call, in one declared format. Its first source of
 * valid RTP is latched (RtpSourceLatch); the participant joins the call then — taking it over from
 * any other connection that carries it — and leaves when the port is released.
 */
class RtpPort implements IngestConnection {
  /** The connection id a participant's `joined` names (unique across the cluster). */
  readonly id = randomUUID();
  readonly tracks: IngestTrack[] = [];
  readonly apiKeyPrefix: string | null;
  readonly call: Call;
  readonly port: number;
  /** performance.now() of the allocation, then of the latest admitted packet. */
  lastPacketAt = performance.now();
  readonly #options: RtpPortsOptions;
  readonly #request: RtpRequest;
  readonly #socket: Socket;
  readonly #parser: RtpDatagramParser;
  readonly #latch = new RtpSourceLatch();
  readonly #sequencer: RtpSequencer;
  readonly #decoder: IngestDecoder;
  readonly #outcomes: Readonly<Record<Outcome, { count: number }>>;
  readonly #onReleased: () => void;
  #track: IngestTrack | null = null;
  #closed = false;

  constructor(
    options: RtpPortsOptions,
    request: RtpRequest,
    socket: Socket,
    port: number,
    outcomes: Readonly<Record<Outcome, { count: number }>>,
    onReleased: () => void,
  ) {
    this.#options = options;
    this.#request = request;
    this.call = request.call;
    this.apiKeyPrefix = request.keyPrefix;
    this.port = port;
    this.#socket = socket;
    this.#outcomes = outcomes;
    this.#onReleased = onReleased;
    this.#parser = new RtpDatagramParser(request.format);
    const wire = rtpWireFormat(request.format);
    this.#sequencer = new RtpSequencer({ clockRateHz: wire.sampleRateHz });
    this.#decoder = new IngestDecoder(wire.encoding, 1);
    socket.on('message', (datagram, from) => this.#receive(datagram, from));
    socket.on('error', (err) => {
      options.logger.warn({ err, port }, 'RTP socket error');
      this.close(CloseCode.INTERNAL_ERROR, 'socket error');
    });
  }

  /** Releases the port; its participant, if it joined, leaves. Idempotent. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // Already closed by its error.
    }
    this.#onReleased();
    this.#options.logger.info(
      {
        callPk: this.call.pk,
        participant: this.#request.participant,
        port: this.port,
        code,
        reason,
        source: this.#latch.source,
        framesIn: this.#track?.framesIn ?? 0,
      },
      'RTP port released',
    );
  }

  /** Never throws: a datagram is audio of the latched source, or dropped and counted. */
  #receive(datagram: Buffer, from: RemoteInfo): void {
    if (this.#closed) return;
    const read = this.#parser.parse(datagram);
    if (read.kind !== 'audio') {
      this.#outcomes[read.kind].count++;
      return;
    }
    const admitted = this.#latch.admit(from.address, from.port);
    if (!admitted.admitted) {
      this.#outcomes.other_source.count++;
      return;
    }
    this.lastPacketAt = performance.now();
    const { packet } = read;
    const order = this.#sequencer.accept(
      packet.ssrc,
      packet.sequenceNumber,
      packet.timestamp,
      this.#parser.samplesIn(packet.payload),
    );
    if (order === RtpOrder.DUPLICATE || order === RtpOrder.STRAY || order === RtpOrder.BEFORE_START) {
      this.#outcomes[order === RtpOrder.BEFORE_START ? 'before_start' : order].count++;
      return;
    }
    const track = this.#track ?? this.#join(from);
    this.#outcomes[order === RtpOrder.LATE ? 'late' : 'audio'].count++;
    track.writeAt(this.#sequencer.position, this.#decoder.decode(packet.payload)[0]);
  }

  /** The first admitted packet: the participant joins the call, carried by this port. */
  #join(from: RemoteInfo): IngestTrack {
    const { registry, metrics, touchCall, logger } = this.#options;
    const wire = rtpWireFormat(this.#request.format);
    const track = publishingTrack(
      this.#options,
      this.call.pk,
      this.#request.participant,
      { encoding: wire.encoding, sampleRateHz: wire.sampleRateHz, platform: 'rtp' },
      this.id,
    );
    this.#track = track;
    this.tracks.push(track);
    metrics.ingestConnections.inc({ platform: 'rtp' });
    registry.addTrack(track);
    touchCall(this.call.pk);
    logger.info(
      {
        callPk: this.call.pk,
        participant: track.name,
        port: this.port,
        source: `${from.address}:${from.port}`,
      },
      'RTP source latched',
    );
    return track;
  }
}
