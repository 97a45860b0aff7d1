import pino, { type DestinationStream, type Logger } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
/** `auto`: human-readable lines when stdout is a terminal, JSON lines otherwise. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormatSetting = (typeof LOG_FORMATS)[number];

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

export type LogFormat = 'json' | 'pretty';

/**
 * EARSHOT_LOG_FORMAT: `auto` gives a person at a terminal human-readable lines and everything else
 * (a pipe, a file, a log collector) pino's JSON lines; `json` and `pretty` force one or the other.
 */
export function chooseLogFormat(setting: LogFormatSetting, stdoutIsTty: boolean): LogFormat {
  if (setting === 'auto') return stdoutIsTty ? 'pretty' : 'json';
  return setting;
}

/**
 * A pino destination that writes each line as pino-pretty renders it (one line per entry, local
 * time, colours only on a colour terminal), synchronously, so that nothing is lost when the
 * process exits right after logging. pino applies its redaction and serializers before this sees
 * the line. pino-pretty is loaded only here, when pretty output is asked for.
 */
export async function prettyDestination(
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Promise<DestinationStream> {
  const { prettyFactory, isColorSupported } = (await import('pino-pretty')).default;
  const pretty = prettyFactory({
    colorize: out.isTTY === true && isColorSupported,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service',
    singleLine: true,
  });
  return {
    write(line: string) {
      out.write(pretty(line));
    },
  };
}

/** The logger of `earshot serve`: JSON lines to stdout, or pretty ones (see chooseLogFormat). */
export async function createProcessLogger(
  level: LogLevel,
  setting: LogFormatSetting,
  out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Promise<Logger> {
  const format = chooseLogFormat(setting, out.isTTY === true);
  if (format === 'pretty') return createLogger(level, await prettyDestination(out));
  return createLogger(level, out === process.stdout ? undefined : (out as DestinationStream));
}
