import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorCode } from '../domain/error-code.js';
import { failure } from '../edge/envelope.js';

/**
 * Errors answered before Fastify routes a request — by Node's HTTP parser (`clientError`), or by
 * the server itself (missing Host, an `Expect` it cannot meet, CONNECT, a request that arrives
 * while the server shuts down) — get the same JSON envelope as every other error. Node's defaults
 * answer those with an empty or non-envelope body.
 *
 * The HTTP status is the one HTTP defines for the case (431, 408, 417, …); the code is the nearest
 * of the declared ones: too large → MESSAGE_TOO_BIG, malformed → VALIDATION_ERROR.
 */
export interface EarlyError {
  readonly status: number;
  readonly code: ErrorCode;
  readonly message: string;
}

/** The answer to an error of Node's HTTP parser, or null when the peer is gone (nothing to say). */
export function clientErrorAnswer(err: Error & { code?: string }): EarlyError | null {
  switch (err.code) {
    case 'ECONNRESET':
      return null;
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'MESSAGE_TOO_BIG',
        message: `Request line and headers exceed ${http.maxHeaderSize} bytes`,
      };
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return { status: 413, code: 'MESSAGE_TOO_BIG', message: 'Chunk extensions too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'VALIDATION_ERROR', message: 'Request not received in time' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'VALIDATION_ERROR', message: 'Malformed HTTP request: unknown method' };
    default:
      return { status: 400, code: 'VALIDATION_ERROR', message: 'Malformed HTTP request' };
  }
}

/** A complete HTTP/1.1 response carrying the envelope, for a raw socket; the connection closes after it. */
export function rawErrorResponse(answer: EarlyError): string {
  const body = JSON.stringify(failure(answer.code, answer.message));
  const reason = http.STATUS_CODES[answer.status] ?? 'Error';
  return (
    `HTTP/1.1 ${answer.status} ${reason}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Fastify's `clientErrorHandler` (bound to the instance): like Node's own, it answers only while no
 * response of the connection has started (an answer in the middle of one would corrupt it), then
 * destroys the socket.
 */
export function handleClientError(
  this: { log: { debug(obj: object, msg: string): void } },
  err: Error & { code?: string },
  socket: Duplex,
): void {
  const answer = clientErrorAnswer(err);
  if (answer === null || socket.destroyed) return;
  this.log.debug({ err, status: answer.status }, 'malformed HTTP request');
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(rawErrorResponse(answer));
  socket.destroy();
}

function sendEnvelope(res: ServerResponse, answer: EarlyError): void {
  const body = JSON.stringify(failure(answer.code, answer.message));
  res.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  res.end(body);
}

/** The Fastify server options that the HTTP/1 server takes over when it is built by `serverFactory`. */
interface ServerTimeouts {
  readonly keepAliveTimeout?: number;
  readonly requestTimeout?: number;
  readonly connectionTimeout?: number;
  readonly maxRequestsPerSocket?: number | null;
}

/**
 * Fastify's `serverFactory`: the HTTP/1 server Fastify would build (same timeouts), with Node's
 * bodiless answers replaced by the envelope: an HTTP/1.1 request without Host (400), an `Expect`
 * other than 100-continue (417), CONNECT (400), and requests on kept-alive connections once the
 * server has stopped listening (503, instead of Fastify's own non-envelope 503).
 */
export function createHttpServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: ServerTimeouts,
): http.Server {
  // Node would answer a missing Host itself, with an empty body; it is checked here instead.
  const server = http.createServer({ requireHostHeader: false }, (req, res) => {
    if (req.httpVersionMajor === 1 && req.httpVersionMinor === 1 && req.headers.host === undefined) {
      return sendEnvelope(res, { status: 400, code: 'VALIDATION_ERROR', message: 'Host header is required' });
    }
    if (!server.listening) {
      return sendEnvelope(res, {
        status: 503,
        code: 'SERVICE_UNAVAILABLE',
        message: 'Server is shutting down, retry shortly',
      });
    }
    handler(req, res);
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) =>
    sendEnvelope(res, {
      status: 417,
      code: 'VALIDATION_ERROR',
      message: 'Only "Expect: 100-continue" is supported',
    }),
  );
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {});
    socket.end(
      rawErrorResponse({ status: 400, code: 'VALIDATION_ERROR', message: 'CONNECT is not supported' }),
    );
  });
  // What Fastify does to the server it builds itself (fastify/lib/server.js, getServerInstance).
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
  if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
  if (options.maxRequestsPerSocket) server.maxRequestsPerSocket = options.maxRequestsPerSocket;
  return server;
}
