import type { Command } from 'commander';
import { loadConfig } from '../config/load-config.js';
import { addConfigFlags, overridesFrom } from './config-flags.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

export function registerServeCommand(program: Command): void {
  const serve = program
    .command('serve')
    .description('Run the server (SQLite and an in-process bus unless configured otherwise)');
  serve.option('--demo', 'also create a demo organization with live listen and print its API key', false);
  addConfigFlags(serve);
  serve.action(async (options) => {
    const overrides = overridesFrom(options);
    // The demo's two calls need no second core: one process unless workers were asked for
    // (docs/operations.md has the figures).
    if (options.demo && overrides.EARSHOT_MEDIA_WORKERS === undefined && !process.env.EARSHOT_MEDIA_WORKERS)
      overrides.EARSHOT_MEDIA_WORKERS = '0';
    const config = loadConfig(process.env, overrides);
    // The server's modules load only when it runs: `earshot --help` and the client commands stay quick.
    const [{ createProcessLogger }, { startServer }, { installProcessGuard }] = await Promise.all([
      import('../observability/logger.js'),
      import('../main.js'),
      import('../observability/process-guard.js'),
    ]);
    const server = await startServer(config, {
      logger: await createProcessLogger(config.logLevel, config.logFormat),
    });
    const log = server.deps.logger;
    installProcessGuard((err, origin, logIt) => {
      server.deps.metrics.uncaughtErrors.inc();
      if (logIt) log.error({ err, origin }, 'unexpected error caught by the process guard; still serving');
    });
    const demo = options.demo ? await (await import('../demo/start-demo.js')).startDemo(server) : null;
    await new Promise<void>((resolve) => {
      const shutdown = (signal: string) => {
        log.info({ signal }, 'shutting down');
        // If closing hangs, leave anyway: an orchestrator waits for the exit, not for us.
        const deadline = setTimeout(() => {
          log.warn('shutdown deadline passed; exiting');
          resolve();
        }, SHUTDOWN_DEADLINE_MS);
        deadline.unref();
        (demo ? demo.stop() : Promise.resolve())
          .then(() => server.close())
          .then(
            () => {
              clearTimeout(deadline);
              resolve();
            },
            (err) => {
              log.error({ err }, 'error during shutdown');
              resolve();
            },
          );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
    log.info('stopped');
    // Exit now: nothing left may keep the process alive past the deadline.
    log.flush?.();
    process.exit(0);
  });
}
