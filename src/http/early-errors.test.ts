import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientErrorAnswer, createHttpServer, rawErrorResponse } from './early-errors.js';

describe('clientErrorAnswer', () => {
  const answer = (code: string) => clientErrorAnswer(Object.assign(new Error('x'), { code }));

  it('maps the parser errors to HTTP statuses and declared codes', () => {
    expect(answer('HPE_HEADER_OVERFLOW')).toMatchObject({ status: 431, code: 'MESSAGE_TOO_BIG' });
    expect(answer('HPE_CHUNK_EXTENSIONS_OVERFLOW')).toMatchObject({ status: 413, code: 'MESSAGE_TOO_BIG' });
    expect(answer('ERR_HTTP_REQUEST_TIMEOUT')).toMatchObject({ status: 408, code: 'VALIDATION_ERROR' });
    expect(answer('HPE_INVALID_METHOD')).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    expect(answer('HPE_ANYTHING_ELSE')).toMatchObject({ status: 400, code: 'VALIDATION_ERROR' });
    expect(answer('ECONNRESET')).toBeNull();
  });

  it('writes a whole response whose body is the envelope', () => {
    const text = rawErrorResponse({ status: 431, code: 'MESSAGE_TOO_BIG', message: 'héllo' });
    const [head, body] = text.split('\r\n\r\n');
    expect(head.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(head).toContain('Connection: close');
    expect(JSON.parse(body)).toEqual({
      status: 'error',
      data: null,
      errors: [{ code: 'MESSAGE_TOO_BIG', message: 'héllo' }],
    });
  });
});

describe('createHttpServer', () => {
  it('answers a request that arrives after the server stopped listening with a 503 envelope', async () => {
    let server: ReturnType<typeof createHttpServer> | null = null;
    server = createHttpServer(
      (_req, res) => {
        // The first request closes the server; the second, pipelined behind it, arrives afterwards.
        server?.close();
        setTimeout(() => res.end('first'), 20);
      },
      { keepAliveTimeout: 5000 },
    );
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const text = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let data = '';
      socket.on('data', (c) => {
        data += c.toString();
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(data));
      socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
      setTimeout(() => socket.destroy(), 2000);
    });
    const second = text.slice(text.indexOf('HTTP/1.1', 1));
    expect(second).toMatch(/^HTTP\/1\.1 503 /);
    expect(JSON.parse(second.split('\r\n\r\n')[1])).toEqual({
      status: 'error',
      data: null,
      errors: [{ code: 'SERVICE_UNAVAILABLE', message: 'Server is shutting down, retry shortly' }],
    });
  });
});
