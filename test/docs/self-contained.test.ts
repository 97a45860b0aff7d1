import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A fresh clone passes its tests: no test, script, benchmark, CI step or doc refers to a path outside
 * the repository (the workspace it was developed in, a sibling checkout, an absolute home).
 */
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SELF = fileURLToPath(import.meta.url);
const SCANNED = ['.ci', 'bench', 'bin', 'docs', 'src', 'test', 'web', 'scripts', 'README.md', 'package.json'];
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build', 'fixtures', '.git']);
const TEXT = /\.(ts|mts|mjs|js|cjs|json|md|sh|yml|yaml|html|css)$|^[^.]+$/;

function files(path: string): string[] {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return [];
  }
  if (stat.isFile()) return TEXT.test(path.split(sep).pop() ?? '') ? [path] : [];
  return readdirSync(path)
    .filter((name) => !SKIP_DIRS.has(name))
    .flatMap((name) => files(join(path, name)));
}

describe('the repository is self-contained', () => {
  const all = SCANNED.flatMap((p) => files(join(ROOT, p))).filter((f) => f !== SELF);

  it('scans the tests, scripts and docs', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all.some((f) => f.endsWith(join('docs', 'api.md')))).toBe(true);
  });

  it('names no absolute workspace path and no sibling checkout', () => {
    const offenders: string[] = [];
    for (const file of all) {
      const text = readFileSync(file, 'utf8');
      if (/(^|[\s'"`(])\/work\//m.test(text) || /\.\.\/shared\//.test(text))
        offenders.push(relative(ROOT, file));
    }
    expect(offenders).toEqual([]);
  });

  it('has no relative path that climbs out of the repository', () => {
    const offenders: string[] = [];
    for (const file of all) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:^|[\s'"`(])((?:\.\.\/)+[\w.@-][\w./@-]*)/gm)) {
        const target = resolve(dirname(file), m[1]);
        if (target !== ROOT && !target.startsWith(ROOT + sep))
          offenders.push(`${relative(ROOT, file)}: ${m[1]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
