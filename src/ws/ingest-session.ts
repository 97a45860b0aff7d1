import { randomUUID } from 'node:crypto';
import type { Call } from '../domain/entities.js';
import { toAppError } from '../edge/to-app-error.js';
import type { IngestConnection } from '../live/call-presence.js';
import { type IngestTrack, publishingTrack } from '../live/ingest-track.js';
import { closeSocket, type IngestSocket } from './close-sockets.js';
import type { MediaDeps } from './media-deps.js';

/**
 * One ingest socket bound to a call: its participant tracks, their registration with the node's
 * live registry, and the one way such a socket ends on bad input — a close code and reason from
 * the error's declaration, counted in metrics, touching nothing else.
 */
export class IngestSession implements IngestConnection {
  readonly call: Call;
  /** Unique across the cluster: a participant's `joined` names it, so older connections know they are replaced. */
  readonly id = randomUUID();
  readonly tracks: IngestTrack[] = [];
  /**
   * Prefix of the key (an ingest key, or an API key on generic ingest) that authenticated the
   * socket — revoking it closes the socket; null when a call's ingest token did.
   */
  readonly apiKeyPrefix: string | null;
  /** `generic` or the platform's name: the metrics' label and the participants' `platform`. */
  readonly platform: string;
  readonly #deps: MediaDeps;
  readonly #ws: IngestSocket;
  #closed = false;

  constructor(
    deps: MediaDeps,
    ws: IngestSocket,
    call: Call,
    origin: { platform: string; keyPrefix: string | null },
  ) {
    this.#deps = deps;
    this.#ws = ws;
    this.call = call;
    this.apiKeyPrefix = origin.keyPrefix;
    this.platform = origin.platform;
    deps.metrics.ingestConnections.inc({ platform: origin.platform });
    deps.registry.addIngest(call.pk, this);
    deps.control.touchCall(call.pk);
    ws.once('close', () => {
      this.#closed = true;
      deps.registry.removeIngest(call.pk, this);
      deps.control.touchCall(call.pk);
    });
  }

  /** Adds the tracks this socket carries. */
  addTracks(names: readonly string[], format: { encoding: string; sampleRateHz: number }): IngestTrack[] {
    const added = names.map((name) =>
      publishingTrack(this.#deps, this.call.pk, name, { ...format, platform: this.platform }, this.id),
    );
    for (const track of added) {
      this.tracks.push(track);
      this.#deps.registry.addTrack(track);
    }
    return added;
  }

  /** Ends the named tracks (e.g. a generic `{"event":"stop"}`) without closing the call. */
  endTracks(): void {
    for (const track of this.tracks) this.#deps.registry.endTrack(track);
  }

  /** Closes the socket because of `err` (an AppError, or anything else as an internal error). */
  fail(err: unknown): void {
    const { error, internal } = toAppError(err);
    if (internal) this.#deps.logger.error({ err, callPk: this.call.pk }, 'ingest failed');
    countIngestError(this.#deps, this.platform, error.code);
    this.close(error.closeCode, error.message);
  }

  close(code: number, reason: string): void {
    closeSocket(this.#ws, code, reason);
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/** Fails a socket that has no session yet (bad input before a platform's start was accepted). */
export function failSocket(deps: MediaDeps, ws: IngestSocket, err: unknown, platform: string): void {
  const { error, internal } = toAppError(err);
  if (internal) deps.logger.error({ err, platform }, 'ingest failed');
  countIngestError(deps, platform, error.code);
  closeSocket(ws, error.closeCode, error.message);
}

function countIngestError(deps: MediaDeps, platform: string, code: string): void {
  deps.metrics.ingestErrors.inc({ code });
  deps.metrics.ingestPlatformErrors.inc({ platform, code });
}
