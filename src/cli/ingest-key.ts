import type { Command } from 'commander';
import { CliError } from './cli-error.js';
import { addConfigFlags } from './config-flags.js';

/** `earshot ingest-key create|revoke` (SPEC §4.4, §5): offline, on the configured database. */
export function registerIngestKeyCommands(program: Command): void {
  const ingestKey = program
    .command('ingest-key')
    .description('Manage ingest keys: credentials platforms stream audio with, creating calls by themselves');

  const create = ingestKey
    .command('create')
    .description('Create an ingest key for an organization (shown once)')
    .requiredOption('--org <id>', 'organization id')
    .option('--name <name>', 'a label, e.g. "Twilio production"')
    .option('--client-secret <base64>', 'Genesys AudioHook: the client secret its signatures are made with')
    .option('--json', 'print the result as JSON', false);
  addConfigFlags(create, ['EARSHOT_DATABASE_URL']);
  create.action(
    async (options: {
      org: string;
      name?: string;
      clientSecret?: string;
      json: boolean;
      databaseUrl?: string;
    }) => {
      if (options.clientSecret !== undefined && !/^[A-Za-z0-9+/]{16,254}={0,2}$/.test(options.clientSecret))
        throw new CliError('--client-secret must be base64, 16 to 256 characters');
      const { withStore } = await import('./with-store.js');
      const created = await withStore(options, async (store) => {
        if (!(await store.getOrg(options.org))) throw new CliError(`no organization with id ${options.org}`);
        return store.createIngestKey(options.org, {
          name: options.name ?? null,
          clientSecret: options.clientSecret ?? null,
        });
      });
      process.stdout.write(
        options.json
          ? `${JSON.stringify({ org_id: options.org, ingest_key: created.ingestKey, prefix: created.prefix, name: created.name })}\n`
          : `Ingest key: ${created.ingestKey}\n            (shown once; prefix ${created.prefix})\n`,
      );
    },
  );

  const revoke = ingestKey
    .command('revoke')
    .description('Revoke an ingest key by its visible prefix (the first 12 characters, e.g. eik_Ab3dE9fG)')
    .argument('<prefix>', 'key prefix');
  addConfigFlags(revoke, ['EARSHOT_DATABASE_URL']);
  revoke.action(async (prefix: string, options: { databaseUrl?: string }) => {
    const { withStore } = await import('./with-store.js');
    const revoked = await withStore(options, (store) => store.revokeIngestKey(prefix));
    if (!revoked) throw new CliError(`no live ingest key with prefix ${prefix}`);
    // Offline, only the store changes: new connections with the key are refused at once, but the
    // ones already open stay until they end; DELETE /v1/ingest-keys/{prefix} closes them too.
    process.stdout.write(
      `Revoked ingest key ${prefix}: new connections are refused\n` +
        '(connections already open stay until they end; to close them at once, use DELETE /v1/ingest-keys/{prefix})\n',
    );
  });
}
