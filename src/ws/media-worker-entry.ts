import { fileURLToPath } from 'node:url';

/**
 * The file a media worker process runs (`ws/media-worker.ts`, compiled): this module's sibling
 * when running from dist/, else (sources run by the test runner) the compiled one in dist/ — a child
 * process of Node 20 cannot run TypeScript. Kept apart from the worker itself, whose module is a
 * process entry point that must not be imported.
 */
export function mediaWorkerEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) return fileURLToPath(new URL('./media-worker.js', import.meta.url));
  return fileURLToPath(new URL('../../dist/ws/media-worker.js', import.meta.url));
}
