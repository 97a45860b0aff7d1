import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

/**
 * The client address of a raw request (a WebSocket upgrade), as Fastify computes `request.ip` for
 * the same `trustProxy` setting: the peer, or — when the peer is a trusted proxy — the address it
 * forwarded (`X-Forwarded-For`).
 */
export function clientAddressOf(trustProxy: boolean | number | string): (request: IncomingMessage) => string {
  if (trustProxy === false) return (request) => request.socket.remoteAddress ?? '';
  // Same trust rules as Fastify's (lib/request.js): a hop count alone cannot vouch for the peer.
  const trust =
    trustProxy === true
      ? () => true
      : typeof trustProxy === 'number'
        ? () => false
        : proxyAddr.compile(trustProxy.split(',').map((s) => s.trim()));
  return (request) => proxyAddr(request, trust);
}

/**
 * The key an address is limited under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 — one
 * subscriber's network, which hands out a new address per connection at will.
 */
export function addressKey(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const [head, tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
