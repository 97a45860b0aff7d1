import type { RunningServer } from '../main.js';
import { startDemoCalls } from './demo-calls.js';

const DEMO_ORG_NAME = 'earshot demo';

/**
 * `earshot serve --demo`: makes sure a demo organization with live listen exists, gives it a fresh
 * API key, starts the simulated calls, and tells the person at the terminal how to use it.
 * Returns the key and a function that stops the simulated calls.
 */
export async function startDemo(
  server: RunningServer,
  out: NodeJS.WritableStream = process.stdout,
): Promise<{ apiKey: string; stop: () => Promise<void> }> {
  const { store } = server.deps;
  const org = (await store.findOrgByName(DEMO_ORG_NAME)) ?? (await store.createOrg(DEMO_ORG_NAME, true));
  if (!org.liveListenEnabled) await store.setLiveListenEnabled(org.id, true);
  const { apiKey } = await store.createApiKey(org.id);
  const stop = startDemoCalls({ baseUrl: server.url, apiKey, log: server.deps.logger });
  out.write(
    [
      '',
      '  earshot demo is running: two simulated calls, a new one every minute or two',
      `  Console:   ${server.url}/   (paste the API key, click Listen)`,
      `  API key:   ${apiKey}`,
      `  API:       ${server.url}/v1   (reference: ${server.url}/docs)`,
      `  Terminal:  EARSHOT_API_KEY=${apiKey} npx earshot listen <call_id> --url ${server.url}`,
      '',
      '',
    ].join('\n'),
  );
  return { apiKey, stop };
}
