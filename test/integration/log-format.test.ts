import { describe, expect, it } from 'vitest';
import { startServerProcess } from '../helpers/server-process.js';

/**
 * EARSHOT_LOG_FORMAT on a real `earshot serve`. Its stdout is a pipe here, so `auto` means JSON
 * (the decision itself, terminal or not, is unit-tested in src/observability/logger.test.ts).
 */
async function serveLogs(format: string | undefined): Promise<{ lines: string[]; secret: string }> {
  const server = await startServerProcess(format === undefined ? {} : { EARSHOT_LOG_FORMAT: format });
  const secret = 'zz'.repeat(20);
  try {
    // A request whose URL carries a token: logged with the token redacted.
    const refused = await server.request(`/ws/listen/some-call?token=${secret}`);
    expect(refused.status).toBeGreaterThanOrEqual(400);
    await refused.text();
  } finally {
    const exit = await server.node.stop('SIGTERM');
    expect(exit.code).toBe(0);
    await server.close();
  }
  return { lines: server.node.logs.map((l) => l.replace(/\n$/, '')), secret };
}

describe('EARSHOT_LOG_FORMAT', () => {
  it.each([['json'], [undefined]])(
    '%s: every line is a JSON object; the listening line is one of them',
    async (format) => {
      const { lines, secret } = await serveLogs(format);
      const entries = lines.map((line) => JSON.parse(line));
      expect(entries.find((e) => /listening on http:\/\//.test(e.msg))).toMatchObject({ level: 30 });
      expect(entries.some((e) => e.msg === 'stopped')).toBe(true);
      expect(lines.join('\n')).not.toContain(secret);
    },
  );

  it('pretty: human lines (time, level, message), not JSON, with the listening line and secrets redacted', async () => {
    const { lines, secret } = await serveLogs('pretty');
    for (const line of lines) expect(() => JSON.parse(line), line).toThrow();
    expect(lines.find((l) => l.includes('listening'))).toMatch(
      /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: earshot listening on http:\/\/127\.0\.0\.1:\d+$/,
    );
    expect(lines.some((l) => /INFO: stopped$/.test(l))).toBe(true);
    const all = lines.join('\n');
    expect(all).toContain('token=[redacted]');
    expect(all).not.toContain(secret);
    expect(all).not.toContain('\u001b[');
  });
});
