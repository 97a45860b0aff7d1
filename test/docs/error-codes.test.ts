import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/domain/error-code.js';

/** The error table in docs/api.md and the declarations in src/domain/error-code.ts must agree. */
describe('docs/api.md error table', () => {
  const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (\d{4}) \|/gm)].map((m) => ({
    code: m[1],
    status: Number(m[2]),
    closeCode: Number(m[3]),
  }));

  it('lists every declared error code once, with its HTTP status and close code', () => {
    const declared = Object.entries(ErrorCode).map(([code, d]) => ({
      code,
      status: d.status,
      closeCode: d.closeCode,
    }));
    expect(rows).toEqual(declared);
  });

  // The contract's table (SPEC §2: Bland's codes plus QUOTA_EXCEEDED), kept here as data: the
  // repository holds everything its tests read.
  const CONTRACT: readonly [code: string, status: number][] = [
    ['UNAUTHORIZED', 401],
    ['MISSING_CALL_ID', 400],
    ['INVALID_ORG_PREFERENCES', 403],
    ['CALL_NOT_FOUND', 404],
    ['INVALID_CALL_STATUS', 409],
    ['VALIDATION_ERROR', 400],
    ['RATE_LIMITED', 429],
    ['QUOTA_EXCEEDED', 429],
    ['INTERNAL_SERVER_ERROR', 500],
  ];

  it('keeps the codes of the contract (SPEC §2) with their statuses, as the first rows, not extensions', () => {
    for (const [code, status] of CONTRACT)
      expect(ErrorCode[code as keyof typeof ErrorCode]?.status).toBe(status);
    expect(rows.slice(0, CONTRACT.length).map((r) => [r.code, r.status])).toEqual(CONTRACT);
    for (const [code] of CONTRACT) {
      const line = doc.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      expect(line, code).not.toMatch(/extension/);
    }
  });
});
