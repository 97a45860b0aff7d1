import type { IncomingHttpHeaders } from 'node:http';
import type { HubBusMessage, WorkerBusMessage } from '../bus/ipc-bus.js';
import { AppError } from '../domain/app-error.js';
import type { Call } from '../domain/entities.js';
import { ErrorCode } from '../domain/error-code.js';
import type { GenericIngestParams } from '../ingest/generic-ingest-params.js';
import type { LogLevel } from '../observability/logger.js';
import type { StreamStartRequest } from './control-plane.js';
import type { ListenerFormat } from './listener-options.js';
import { DIRECT_WRITES, type DirectWrites, WRITE_COALESCING, type WriteCoalescing } from './modes.js';

/** The main process's settings a media worker runs with (its argv[2], as JSON). */
export interface MediaWorkerSettings {
  readonly writeCoalescing: WriteCoalescing;
  readonly directWrites: DirectWrites;
  readonly opusComplexity: number;
  readonly logLevel: LogLevel;
  /** NATS servers and subject prefix: the worker joins the cluster's bus itself. Null: the main process relays. */
  readonly nats: { readonly servers: readonly string[]; readonly prefix: string } | null;
}

/** Reads a worker's settings back; throws (the worker then fails to start) on anything else. */
export function parseMediaWorkerSettings(json: string | undefined): MediaWorkerSettings {
  const value = JSON.parse(json ?? 'null') as Partial<Record<keyof MediaWorkerSettings, unknown>> | null;
  const writeCoalescing = WRITE_COALESCING.find((m) => m === value?.writeCoalescing);
  const directWrites = DIRECT_WRITES.find((m) => m === value?.directWrites);
  const nats = value?.nats as MediaWorkerSettings['nats'] | undefined;
  const opusComplexity = value?.opusComplexity;
  if (
    !writeCoalescing ||
    !directWrites ||
    typeof opusComplexity !== 'number' ||
    typeof value?.logLevel !== 'string' ||
    nats === undefined
  )
    throw new Error(`media worker: bad settings ${json}`);
  return { writeCoalescing, directWrites, opusComplexity, logLevel: value.logLevel as LogLevel, nats };
}

/** What the control plane admitted a socket as: the worker opens it as that, with no further lookup. */
export type SocketGrant =
  | {
      readonly kind: 'listener';
      readonly callPk: string;
      readonly format: ListenerFormat;
      /** Hash of the listen token it connected with (a revocation names it). */
      readonly tokenHash: string;
    }
  | {
      readonly kind: 'ingest';
      readonly call: Call;
      readonly params: GenericIngestParams;
      readonly apiKeyPrefix: string | null;
    }
  /**
   * A platform's stream (Twilio, Telnyx, …): its call is known at its start message
   * (`authorizeStream`), with the credential and call id its upgrade carried, if any.
   */
  | {
      readonly kind: 'stream';
      readonly platform: string;
      readonly address: string;
      readonly credential: string | null;
      readonly callId: string | null;
    };

/** The control-plane requests a worker makes (ControlPlane's methods that answer). */
export type ControlRequest =
  | { readonly op: 'completeCall'; readonly call: Call }
  | {
      readonly op: 'authorizeStream';
      readonly address: string;
      readonly start: StreamStartRequest;
      readonly socketId: number;
    }
  | { readonly op: 'listenerStatus'; readonly callPk: string; readonly tokenHash: string };

/**
 * Messages between the main process (control plane) and a media worker, over the Node IPC channel
 * with `serialization: 'advanced'` (Buffers travel as bytes). Sockets travel as handles with `socket`.
 */
export type ToMediaWorker =
  /** A socket checked and admitted, not yet upgraded: the worker completes the WebSocket handshake. */
  | {
      readonly t: 'socket';
      readonly id: number;
      readonly grant: SocketGrant;
      readonly url: string;
      readonly headers: IncomingHttpHeaders;
      /** Bytes the HTTP server read past the request head (usually none). */
      readonly head: Uint8Array;
    }
  /**
   * Sockets passed as one SCM_RIGHTS record on the worker's socket pair (live/socket-passing.ts),
   * sent just before this message: the record's descriptors are these sockets, in this order.
   */
  | { readonly t: 'sockets'; readonly items: readonly SocketItem[] }
  | { readonly t: 'bus'; readonly m: HubBusMessage }
  | { readonly t: 'reply'; readonly id: number; readonly value?: unknown; readonly error?: WireError }
  /** Send your metrics (prom-client JSON) for a scrape. */
  | { readonly t: 'metrics?'; readonly id: number }
  /** Close every socket with 1001, wait briefly for the close handshakes, exit. */
  | { readonly t: 'shutdown' };

/** One socket of a `sockets` batch: what a `socket` message says of it. */
export type SocketItem = Omit<Extract<ToMediaWorker, { t: 'socket' }>, 't'>;

/** The descriptor number of a worker's end of its socket pair (its stdio index). */
export const SOCKET_PAIR_FD = 4;

export type FromMediaWorker =
  | { readonly t: 'ready' }
  /** The socket is gone (closed by either side, cut by the keepalive, or its handshake failed). */
  | { readonly t: 'closed'; readonly id: number }
  | { readonly t: 'bus'; readonly m: WorkerBusMessage }
  | { readonly t: 'touch'; readonly callPk: string }
  | { readonly t: 'request'; readonly id: number; readonly request: ControlRequest }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: unknown[] }
  /** The worker's own NATS connection came back: the control plane reconciles. */
  | { readonly t: 'reconnected' }
  /** An error reached the worker's process-level guard (logged there; the worker keeps serving). */
  | { readonly t: 'uncaught' };

/** An AppError as it crosses the channel. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

export function toWireError(err: unknown): WireError {
  if (err instanceof AppError) return { code: err.code, message: err.message };
  return { code: 'INTERNAL_SERVER_ERROR', message: ErrorCode.INTERNAL_SERVER_ERROR.message };
}

export function fromWireError(wire: WireError): AppError {
  const code = (wire.code in ErrorCode ? wire.code : 'INTERNAL_SERVER_ERROR') as ErrorCode;
  return new AppError(code, wire.message);
}
