import { loadConfig } from '../config/load-config.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { overridesFrom } from './config-flags.js';

/** Opens the configured database (running migrations), runs `work`, and closes it. */
export async function withStore<T>(
  options: { databaseUrl?: string },
  work: (store: Store) => Promise<T>,
): Promise<T> {
  const config = loadConfig(process.env, overridesFrom(options));
  const store = await openStore(config.database);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
