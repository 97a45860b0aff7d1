/** earshot's HTTP API as the benchmarks call it. */

/** `api(method, path, body)` → the envelope's `data`, or an Error naming the request and the answer. */
export function apiClient(baseUrl, apiKey) {
  return async (method, p, body) => {
    const res = await fetch(baseUrl + p, {
      method,
      headers: { authorization: apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
    return json.data;
  };
}

/** Path and query of a ws:// URL (what a client sends in its GET). */
const pathOf = (url) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/**
 * Creates a call and a listen URL for it: { id, ingestPath, listenPath }, both paths with their
 * credentials in the query (the ingest token, the listen token).
 */
export async function createCall(api) {
  const created = await api('POST', '/v1/calls', {});
  const listen = await api('POST', `/v1/calls/${encodeURIComponent(created.call_id)}/listen`);
  return { id: created.call_id, ingestPath: pathOf(created.ingest.url), listenPath: pathOf(listen.url) };
}

/** The ingest path of one participant of `call` sending `encoding` at `sampleRate` Hz. */
export const participantPath = (call, participant, encoding, sampleRate) =>
  `${call.ingestPath}&participant=${participant}&encoding=${encoding}&sample_rate=${sampleRate}`;
