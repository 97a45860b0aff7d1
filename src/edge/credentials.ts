/**
 * The secret in an Authorization header: `Authorization: <key>` (Bland's form) or `Bearer <key>`.
 * Returns null when there is none.
 */
export function credentialFrom(header: string | undefined): string | null {
  if (header === undefined) return null;
  const value = header
    .trim()
    .replace(/^bearer\s+/i, '')
    .trim();
  return value === '' ? null : value;
}
