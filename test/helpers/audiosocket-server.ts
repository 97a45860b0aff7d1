import { loadConfig } from '../../src/config/load-config.js';
import type { ConfigOverrides } from '../../src/config/variables.js';
import { type RunningServer, startServer } from '../../src/main.js';
import { createLogger } from '../../src/observability/logger.js';
import { openStore } from '../../src/store/open-store.js';
import { sqliteBackend } from './databases.js';

export interface AudioSocketTestServer {
  readonly server: RunningServer;
  /** AudioSocket's TCP port (EARSHOT_AUDIOSOCKET_LISTEN on 127.0.0.1:0). */
  readonly port: number;
  readonly apiKey: string;
  /** The ingest key AudioSocket calls belong to (also good on every other ingest endpoint). */
  readonly ingestKey: string;
  close(): Promise<void>;
}

/**
 * A server with AudioSocket on, set up as an operator does it: an organization, an API key and an
 * ingest key made in a fresh SQLite store first, then the server started with that key (and
 * `env`, e.g. a listener mode or RTP ports), one process unless `env` says otherwise.
 */
export async function startAudioSocketTestServer(env: ConfigOverrides = {}): Promise<AudioSocketTestServer> {
  const db = await sqliteBackend.create();
  const store = await openStore(db.config);
  const org = await store.createOrg('Asterisk PBX', true);
  const { apiKey } = await store.createApiKey(org.id);
  const { ingestKey } = await store.createIngestKey(org.id, { name: 'audiosocket', clientSecret: null });
  await store.close();
  const config = loadConfig(
    {},
    {
      EARSHOT_PORT: '0',
      EARSHOT_DATABASE_URL: db.url,
      EARSHOT_LOG_LEVEL: 'warn',
      EARSHOT_MEDIA_WORKERS: '0',
      EARSHOT_AUDIOSOCKET_LISTEN: '127.0.0.1:0',
      EARSHOT_AUDIOSOCKET_INGEST_KEY: ingestKey,
      ...env,
    },
  );
  const server = await startServer(config, { logger: createLogger('warn') });
  return {
    server,
    port: server.audiosocket?.port as number,
    apiKey,
    ingestKey,
    async close() {
      await server.close();
      await db.drop();
    },
  };
}
