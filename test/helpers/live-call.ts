import { jsonRequest } from './server.js';
import type { HttpTarget } from './server-process.js';

export interface LiveCall {
  readonly id: string;
  readonly ingestToken: string;
  /** The call's generic ingest URL with extra query parameters. */
  ingestUrl(query: string): string;
  /** A fresh listen URL (POST …/listen) with optional extra query parameters. */
  listenUrl(query?: string): Promise<string>;
  stop(): ReturnType<typeof jsonRequest>;
}

/** Creates a call through the API (as a platform would) with helpers for its sockets. */
export async function createLiveCall(ts: HttpTarget, apiKey: string, callId?: string): Promise<LiveCall> {
  const created = await jsonRequest(ts, 'POST', '/v1/calls', {
    apiKey,
    body: callId ? { call_id: callId } : {},
  });
  if (created.status !== 200) throw new Error(`create call failed: ${created.text}`);
  const id: string = created.body.data.call_id;
  return {
    id,
    ingestToken: created.body.data.ingest.token,
    ingestUrl: (query) => `${created.body.data.ingest.url}&${query}`,
    async listenUrl(query = '') {
      const r = await jsonRequest(ts, 'POST', `/v1/calls/${id}/listen`, { apiKey });
      if (r.status !== 200) throw new Error(`listen failed: ${r.text}`);
      return r.body.data.url + (query ? `&${query}` : '');
    },
    stop: () => jsonRequest(ts, 'POST', `/v1/calls/${id}/stop`, { apiKey }),
  };
}
