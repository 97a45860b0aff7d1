import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layers of docs/architecture.md, as code: which folders of src/ each folder may import from
 * (its own is always allowed). Lower layers never import higher ones, and peers never import each
 * other: `audio` and `ingest` are both pure and know nothing of each other; `http` and `ws` are the
 * two front ends and share only what `edge` holds. `main` is src/main.ts, the composition root.
 */
const BELOW_LIVE = ['domain', 'audio', 'ingest', 'observability', 'store', 'bus'];
const LAYERS: Readonly<Record<string, readonly string[]>> = {
  domain: [],
  audio: ['domain'],
  ingest: ['domain'],
  observability: ['domain'],
  store: ['domain'],
  bus: ['domain'],
  live: BELOW_LIVE,
  config: ['domain', 'observability', 'store', 'live'],
  edge: ['domain', 'observability', 'store', 'config'],
  http: [...BELOW_LIVE, 'live', 'config', 'edge'],
  ws: [...BELOW_LIVE, 'live', 'config', 'edge'],
  main: [...BELOW_LIVE, 'live', 'config', 'edge', 'http', 'ws'],
  demo: [...BELOW_LIVE, 'live', 'config', 'edge', 'http', 'ws', 'main'],
  client: ['domain', 'audio'],
  cli: [...BELOW_LIVE, 'live', 'config', 'edge', 'http', 'ws', 'main', 'demo', 'client'],
};

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The layer of a file under src/: its top folder, or `main` for files directly in src/. */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length === 1 ? 'main' : parts[0];
}

/** Every relative import of a source text: static `from '…'`, `import '…'` and dynamic `import('…')`. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g))
    found.push(m[1]);
  return found;
}

/** Each import that points up or sideways, as `file → target (layer → layer)`. */
function layerViolations(files: readonly { path: string; text: string }[]): string[] {
  const violations: string[] = [];
  for (const { path, text } of files) {
    const from = layerOf(path);
    const allowed = LAYERS[from];
    for (const spec of importsOf(text)) {
      const target = resolve(dirname(path), spec);
      if (!target.startsWith(`${SRC}/`)) continue;
      const to = layerOf(target);
      if (to === from) continue;
      if (allowed === undefined || !allowed.includes(to))
        violations.push(`${relative(SRC, path)} → ${relative(SRC, target)} (${from} may not import ${to})`);
    }
  }
  return violations;
}

function sourceFiles(dir: string): { path: string; text: string }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.test.ts')) return [];
    return [{ path, text: readFileSync(path, 'utf8') }];
  });
}

describe('layers (docs/architecture.md)', () => {
  const files = sourceFiles(SRC);

  it('every folder of src/ has a place in the layers', () => {
    const folders = new Set(files.map((f) => layerOf(f.path)));
    expect([...folders].filter((f) => !(f in LAYERS))).toEqual([]);
  });

  it('no source file imports from a layer above it or from a peer it must not know', () => {
    expect(layerViolations(files)).toEqual([]);
  });

  it('catches a planted upward import, a sideways one and a dynamic one', () => {
    const planted = [
      { path: join(SRC, 'audio/mixer.ts'), text: "import { Listener } from '../live/listener.js';" },
      { path: join(SRC, 'ws/listen-endpoint.ts'), text: "import { success } from '../http/envelope.js';" },
      { path: join(SRC, 'store/x.ts'), text: "const m = await import('../config/load-config.js');" },
      { path: join(SRC, 'live/ok.ts'), text: "import { mixMono } from '../audio/mixer.js';" },
    ];
    expect(layerViolations(planted)).toEqual([
      'audio/mixer.ts → live/listener.js (audio may not import live)',
      'ws/listen-endpoint.ts → http/envelope.js (ws may not import http)',
      'store/x.ts → config/load-config.js (store may not import config)',
    ]);
  });
});
