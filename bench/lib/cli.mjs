/**
 * The command line of a bench script: `node:util` parseArgs, strict, so an unknown option, a
 * missing value or a stray argument ends the process with the message and the usage (exit 2)
 * instead of being ignored; `--help` / `-h` prints the usage.
 */
import { parseArgs } from 'node:util';

/**
 * Parses `argv` against `options` (parseArgs' table). Returns the values, and readers that check a
 * value and fail the same way: `number(name, fallback, { min, integer })`, `choice(name, list, fallback)`.
 */
export function commandLine(argv, { script, options, usage }) {
  const fail = (message) => {
    process.stderr.write(`${script}: ${message}\n\n${usage}\n`);
    process.exit(2);
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    if (!String(err.code).startsWith('ERR_PARSE_ARGS')) throw err;
    // Node's hint about `--` is for positional arguments, which no bench script takes.
    fail(err.message.split('. To specify a positional')[0]);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return {
    values,
    fail,
    number(name, fallback, { min = 0, integer = true } = {}) {
      const raw = values[name];
      if (raw === undefined) return fallback;
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n)))
        fail(`--${name}=${raw}: expected ${integer ? 'an integer' : 'a number'} ≥ ${min}`);
      return n;
    },
    choice(name, allowed, fallback) {
      const raw = values[name];
      if (raw === undefined) return fallback;
      if (!allowed.includes(raw)) fail(`--${name}=${raw}: expected one of ${allowed.join(', ')}`);
      return raw;
    },
  };
}
