import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chooseLogFormat, createLogger, createProcessLogger, prettyDestination } from './logger.js';

/** A stream that records what is written to it, and whether it claims to be a terminal. */
function sink(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY });
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk));
  return { stream, text: () => text };
}

describe('chooseLogFormat', () => {
  it.each([
    ['auto', true, 'pretty'],
    ['auto', false, 'json'],
    ['json', true, 'json'],
    ['json', false, 'json'],
    ['pretty', true, 'pretty'],
    ['pretty', false, 'pretty'],
  ] as const)('EARSHOT_LOG_FORMAT=%s with a terminal %s: %s', (setting, tty, expected) => {
    expect(chooseLogFormat(setting, tty)).toBe(expected);
  });
});

describe('pretty logs', () => {
  it('writes one human-readable line per entry, with the level and message, and no JSON', async () => {
    const out = sink(false);
    const log = createLogger('info', await prettyDestination(out.stream));
    log.info({ port: 8080 }, 'earshot listening on http://127.0.0.1:8080');
    log.debug('not at info level');
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: earshot listening on http:\/\/127\.0\.0\.1:8080 /,
    );
    expect(lines[0]).toContain('"port":8080');
    expect(() => JSON.parse(lines[0])).toThrow();
    // Not a terminal: no colour codes, so the URL can be read back from the line.
    expect(out.text()).not.toContain('\u001b[');
  });

  it('keeps secrets redacted, as the JSON logs do', async () => {
    const out = sink(false);
    const log = createLogger('trace', await prettyDestination(out.stream));
    const secret = 'esk_s3cr3ts3cr3ts3cr3ts3cr3t';
    log.info({ token: secret, nested: { apiKey: secret }, authorization: secret }, 'fields');
    log.info({ req: { method: 'GET', url: `/ws/listen/c?token=${secret}&x=1` } }, 'incoming request');
    expect(out.text()).not.toContain(secret);
    expect(out.text()).toContain('token=[redacted]&x=1');
    expect(out.text()).toContain('[redacted]');
  });

  it('writes an error with its stack', async () => {
    const out = sink(false);
    const log = createLogger('info', await prettyDestination(out.stream));
    log.error({ err: new Error('boom') }, 'it failed');
    expect(out.text()).toMatch(/ERROR: it failed[\s\S]*Error: boom[\s\S]*at /);
  });
});

describe('createProcessLogger', () => {
  it('auto: JSON lines when the output is not a terminal, pretty ones when it is', async () => {
    const pipe = sink(false);
    (await createProcessLogger('info', 'auto', pipe.stream)).info('hello');
    expect(JSON.parse(pipe.text())).toMatchObject({ msg: 'hello', level: 30, service: 'earshot' });

    const terminal = sink(true);
    (await createProcessLogger('info', 'auto', terminal.stream)).info('hello');
    expect(terminal.text()).toMatch(/INFO.*: .*hello/);
    expect(() => JSON.parse(terminal.text())).toThrow();
  });

  it('json and pretty override what the output is', async () => {
    const terminal = sink(true);
    (await createProcessLogger('info', 'json', terminal.stream)).info('hello');
    expect(JSON.parse(terminal.text())).toMatchObject({ msg: 'hello' });

    const pipe = sink(false);
    (await createProcessLogger('info', 'pretty', pipe.stream)).info('hello');
    expect(pipe.text()).toMatch(/^\[[\d:.]+\] INFO: hello\n$/);
  });
});
