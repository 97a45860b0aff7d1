import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/variables.js';
import { registerBenchCommand } from './bench.js';
import { CliError } from './cli-error.js';
import { registerIngestKeyCommands } from './ingest-key.js';
import { registerKeyCommands } from './key.js';
import { registerListenCommand } from './listen.js';
import { registerOrgCommands } from './org.js';
import { registerServeCommand } from './serve.js';
import { registerSimulateCommand } from './simulate.js';

/**
 * Runs the `earshot` command line; resolves to the process exit code. Only commander and the small
 * flag code load here: each command's action imports what it needs (the server, the database, ws)
 * when it runs, so `earshot --help` and the client commands start quickly.
 */
export async function run(argv: readonly string[]): Promise<number> {
  const program = new Command()
    .name('earshot')
    .description('Listen in, live, to phone and voice-AI calls.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServeCommand(program);
  registerOrgCommands(program);
  registerKeyCommands(program);
  registerIngestKeyCommands(program);
  registerListenCommand(program);
  registerSimulateCommand(program);
  registerBenchCommand(program);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CliError || err instanceof ConfigError) {
      process.stderr.write(`earshot: ${err.message}\n`);
      return err instanceof CliError ? err.exitCode : 2;
    }
    throw err;
  }
}
