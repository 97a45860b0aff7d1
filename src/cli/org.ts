import type { Command } from 'commander';
import { CliError } from './cli-error.js';
import { addConfigFlags } from './config-flags.js';

export function registerOrgCommands(program: Command): void {
  const org = program
    .command('org')
    .description('Manage organizations (offline, on the configured database)');
  const create = org
    .command('create')
    .description('Create an organization and its first API key')
    .argument('<name>', 'organization name')
    .option('--live-listen', 'enable live listen for the organization', false)
    .option('--json', 'print the result as JSON', false);
  addConfigFlags(create, ['EARSHOT_DATABASE_URL']);
  create.action(
    async (name: string, options: { liveListen: boolean; json: boolean; databaseUrl?: string }) => {
      const trimmed = name.trim();
      if (trimmed === '' || trimmed.length > 200) {
        throw new CliError('organization name must be 1–200 characters');
      }
      const { withStore } = await import('./with-store.js');
      const result = await withStore(options, async (store) => {
        const created = await store.createOrg(trimmed, options.liveListen);
        const key = await store.createApiKey(created.id);
        return { org: created, key };
      });
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({
            org_id: result.org.id,
            name: result.org.name,
            live_listen_enabled: result.org.liveListenEnabled,
            api_key: result.key.apiKey,
            key_prefix: result.key.prefix,
          })}\n`,
        );
        return;
      }
      process.stdout.write(
        [
          `Organization: ${result.org.name}`,
          `Org id:       ${result.org.id}`,
          `Live listen:  ${result.org.liveListenEnabled ? 'enabled' : 'disabled (PATCH /v1/org/preferences to enable)'}`,
          `API key:      ${result.key.apiKey}`,
          '              (shown once: store it now; revoke with `earshot key revoke ' +
            result.key.prefix +
            '`)',
          '',
        ].join('\n'),
      );
    },
  );
}
