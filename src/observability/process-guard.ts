/** Full log lines per minute for errors that reach the guard; past that they are only counted. */
const LOGGED_PER_MINUTE = 20;

/**
 * The last line of defence of a process that serves many connections: an error that escapes every
 * handler (a socket without an `error` listener, a throw in a callback) is logged and counted
 * instead of ending the process, and with it every call on the node. Each socket has its own error
 * path; this guard exists so that a path someone forgot costs one connection, not the node. Logging
 * is bounded (LOGGED_PER_MINUTE), so an error repeated in a loop cannot flood the log.
 * Installed by the process's owner (`earshot serve`, a media worker), never by a library caller.
 * Returns a function that removes it.
 */
export function installProcessGuard(
  report: (err: unknown, origin: string, logIt: boolean) => void,
): () => void {
  let windowStart = Date.now();
  let logged = 0;
  const onError = (err: unknown, origin: string) => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      windowStart = now;
      logged = 0;
    }
    report(err, origin, logged++ < LOGGED_PER_MINUTE);
  };
  const onException = (err: Error, origin: string) => onError(err, origin);
  const onRejection = (reason: unknown) => onError(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
