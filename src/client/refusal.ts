import type { IncomingMessage } from 'node:http';

/** What the server said when it refused an upgrade: the HTTP status and its envelope's first error. */
export interface Refusal {
  readonly status: number;
  readonly code: string | null;
  readonly message: string;
}

/** Reads a refused upgrade's response (`ws`'s `unexpected-response`): at most 4 KiB of its body. */
export function readRefusal(response: IncomingMessage): Promise<Refusal> {
  return new Promise((resolve) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (body.length < 4096) body += chunk;
    });
    response.on('end', () => {
      let code: string | null = null;
      let message = response.statusMessage ?? '';
      try {
        const first = JSON.parse(body).errors[0];
        code = String(first.code);
        message = String(first.message);
      } catch {
        // Not the envelope (a proxy's page): the status line says what there is.
      }
      resolve({ status: response.statusCode ?? 0, code, message });
    });
  });
}

/** An upgrade the server refused, with its HTTP status and the envelope's error code. */
export class UpgradeRefusedError extends Error {
  readonly status: number;
  readonly code: string | null;
  constructor(what: string, { status, code, message }: Refusal) {
    super(`${what} refused: HTTP ${status}${code ? ` ${code}` : ''}: ${message}`);
    this.status = status;
    this.code = code;
  }
}
