import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

/** `web/` at the package root: three levels up from both src/http/routes and dist/http/routes. */
const WEB_ROOT = fileURLToPath(new URL('../../../web/', import.meta.url));

/**
 * The page loads only its own files and talks only to this server (HTTP and the listen WebSocket,
 * whose URL may carry the configured public host, hence any ws:/wss: origin).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The web console (SPEC §6): the static files of `web/` served as they are (nothing to build) at `/`.
 * Each file gets its own route (no wildcard), so unknown paths still get the JSON 404 envelope.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, {
    root: WEB_ROOT,
    prefix: '/',
    wildcard: false,
    index: 'index.html',
    decorateReply: false,
    // Revalidate every time (ETag / Last-Modified): an upgraded server never serves a stale page.
    cacheControl: false,
    setHeaders(res, path) {
      res.setHeader('cache-control', 'no-cache');
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      if (path.endsWith('.html')) res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      // The player (`<script type="module" src="…/player.js">`) and its worklet load into other
      // sites' pages: modules and worklets from another origin need CORS. Public files, no credentials.
      if (path.endsWith('.js')) {
        res.setHeader('access-control-allow-origin', '*');
        res.setHeader('cross-origin-resource-policy', 'cross-origin');
      }
    },
  });
};
