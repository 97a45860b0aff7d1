/**
 * A tiny request/response protocol over the IPC channel of a forked child: the orchestrator calls
 * `child.call(cmd, args)`, the child answers from its handler table. A child exits when its parent
 * goes away, so a crashed or killed bench leaves no load generator behind.
 */
import { fork } from 'node:child_process';

export class Child {
  #proc;
  #next = 0;
  #pending = new Map();
  #exited;

  /** Forks `modulePath` (a bench/ script) with `args`. */
  constructor(modulePath, args = [], execArgv = []) {
    this.#proc = fork(modulePath, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    this.#exited = new Promise((resolve) =>
      this.#proc.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.#proc.on('message', (msg) => {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${modulePath}: ${msg.error}`));
      else p.resolve(msg.result);
    });
    this.#exited.then(({ code, signal }) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${modulePath} exited (${code ?? signal})`));
      this.#pending.clear();
    });
  }

  get pid() {
    return this.#proc.pid;
  }

  call(cmd, args = {}) {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#proc.send({ id, cmd, args });
    });
  }

  /** Asks the child to shut down, then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 3000) {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    this.call('shutdown').catch(() => {});
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Synchronous last resort (process exit handlers). */
  kill() {
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGKILL');
  }
}

/** Child side: answers requests with `handlers[cmd](args)`; `shutdown` exits. */
export function serveRpc(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      if (cmd === 'shutdown') {
        await handlers.shutdown?.();
        process.send({ id, result: true }, () => process.exit(0));
        return;
      }
      const handler = handlers[cmd];
      if (!handler) throw new Error(`unknown command ${cmd}`);
      process.send({ id, result: await handler(args) });
    } catch (err) {
      process.send({ id, error: String(err?.stack ?? err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}
