/**
 * earshot's HTTP API as the benchmarks call it: `api(method, path, body)` → the envelope's `data`,
 * or an Error naming the request and the server's answer.
 */
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
