import type { Command } from 'commander';
import { CliError } from './cli-error.js';
import { addConfigFlags } from './config-flags.js';

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('Manage API keys (offline, on the configured database)');

  const create = key
    .command('create')
    .description('Create another API key for an organization')
    .requiredOption('--org <id>', 'organization id')
    .option('--json', 'print the result as JSON', false);
  addConfigFlags(create, ['EARSHOT_DATABASE_URL']);
  create.action(async (options: { org: string; json: boolean; databaseUrl?: string }) => {
    const { withStore } = await import('./with-store.js');
    const created = await withStore(options, async (store) => {
      if (!(await store.getOrg(options.org))) throw new CliError(`no organization with id ${options.org}`);
      return store.createApiKey(options.org);
    });
    process.stdout.write(
      options.json
        ? `${JSON.stringify({ org_id: options.org, api_key: created.apiKey, key_prefix: created.prefix })}\n`
        : `API key: ${created.apiKey}\n         (shown once; prefix ${created.prefix})\n`,
    );
  });

  const revoke = key
    .command('revoke')
    .description(
      'Revoke an API key by its visible prefix (the first 12 characters, e.g. esk_Ab3dE9fG), and the listen URLs it minted',
    )
    .argument('<prefix>', 'key prefix');
  addConfigFlags(revoke, ['EARSHOT_DATABASE_URL']);
  revoke.action(async (prefix: string, options: { databaseUrl?: string }) => {
    const { withStore } = await import('./with-store.js');
    const revoked = await withStore(options, (store) => store.revokeApiKey(prefix));
    if (!revoked) throw new CliError(`no live API key with prefix ${prefix}`);
    // Offline, only the store changes: a running server closes the listeners of those URLs on its
    // next reconciliation (within 30 s); the key's open ingest sockets stay until they disconnect.
    process.stdout.write(
      `Revoked API key ${prefix} and the listen URLs it minted\n` +
        '(running servers close their listeners within 30 s; to close its sockets at once, use DELETE /admin/v1/keys/{prefix})\n',
    );
  });
}
