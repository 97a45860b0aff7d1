import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/load-config.js';

/**
 * Query parameters whose values are secrets. Request URLs are logged with these values replaced,
 * and Authorization headers are never logged (the request serializer does not include headers).
 */
const SECRET_QUERY = /([?&](?:token|api_key|key)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

/** The process logger: pino JSON lines, with secrets kept out by construction. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'earshot' },
      // Belt and braces: should anything log an object with these fields, pino censors them.
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          'authorization',
          'apiKey',
          'api_key',
          'token',
          '*.apiKey',
          '*.api_key',
          '*.token',
        ],
        censor: '[redacted]',
      },
      serializers: {
        req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
          remoteAddress: req.ip,
        }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}
