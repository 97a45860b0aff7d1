/** Where things are: the package root, bench/ scripts, and whether the build they need is there. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The CLI entry (`node bin/earshot.js serve`, `… org create`). */
export const BIN = path.join(ROOT, 'bin', 'earshot.js');

/** The path of a script in bench/. */
export const benchFile = (file) => path.join(ROOT, 'bench', file);

/** The URL of a built module in dist/ (for `import()`): e.g. `distFile('audio/opus.js')`. */
export const distFile = (file) => pathToFileURL(path.join(ROOT, 'dist', file)).href;

/**
 * Ends the process with a plain message when dist/ is missing. The entry scripts call it before they
 * import the modules that load dist/, which would otherwise fail with a bare ERR_MODULE_NOT_FOUND.
 */
export function requireBuild(script) {
  if (existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) return;
  process.stderr.write(`${script}: dist/ is missing: run \`npm run build\` first\n`);
  process.exit(1);
}
