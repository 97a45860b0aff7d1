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

  it('keeps the Bland-compatible codes of SPEC §2 with their statuses', () => {
    const spec = readFileSync(new URL('../../../shared/SPEC.md', import.meta.url), 'utf8');
    const specRows = [...spec.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(specRows.length).toBeGreaterThanOrEqual(8);
    for (const [code, status] of specRows)
      expect(ErrorCode[code as keyof typeof ErrorCode]?.status).toBe(status);
  });
});
