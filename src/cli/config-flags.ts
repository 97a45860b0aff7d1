import type { Command } from 'commander';
import type { ConfigOverrides } from '../config/load-config.js';

/** `--database-url` etc.: flags that override the EARSHOT_* variable of the same name. */
const FLAGS = {
  host: ['--host <host>', 'EARSHOT_HOST'],
  port: ['--port <port>', 'EARSHOT_PORT'],
  databaseUrl: ['--database-url <url>', 'EARSHOT_DATABASE_URL'],
  natsUrl: ['--nats-url <urls>', 'EARSHOT_NATS_URL'],
  natsPrefix: ['--nats-prefix <prefix>', 'EARSHOT_NATS_PREFIX'],
  publicUrl: ['--public-url <url>', 'EARSHOT_PUBLIC_URL'],
  adminToken: ['--admin-token <token>', 'EARSHOT_ADMIN_TOKEN'],
  logLevel: ['--log-level <level>', 'EARSHOT_LOG_LEVEL'],
} as const;

export type ConfigFlag = keyof typeof FLAGS;

export function addConfigFlags(command: Command, flags: readonly ConfigFlag[]): Command {
  for (const flag of flags) {
    const [spec, variable] = FLAGS[flag];
    command.option(spec, `overrides ${variable}`);
  }
  return command;
}

export function overridesFrom(options: Partial<Record<ConfigFlag, string>>): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  for (const [flag, [, variable]] of Object.entries(FLAGS) as [ConfigFlag, (typeof FLAGS)[ConfigFlag]][]) {
    const value = options[flag];
    if (value !== undefined) overrides[variable] = value;
  }
  return overrides;
}
