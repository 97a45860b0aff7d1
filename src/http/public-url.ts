import type { FastifyRequest } from 'fastify';

/**
 * The base of the ws(s):// URLs earshot hands out: EARSHOT_PUBLIC_URL when configured, otherwise the
 * scheme and host the request came in on (X-Forwarded-Proto/-Host count only when the proxy is
 * trusted, which Fastify's `trustProxy` decides). `http` becomes `ws`, `https` becomes `wss`.
 */
export function webSocketBase(request: FastifyRequest, publicUrl: string | null): string {
  if (publicUrl !== null) return publicUrl.replace(/^http/, 'ws');
  const scheme = request.protocol === 'https' ? 'wss' : 'ws';
  return `${scheme}://${request.host}`;
}
