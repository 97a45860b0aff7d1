import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load-config.js';
import { CONFIG_VARIABLES, type ConfigVariable } from '../config/variables.js';
import { ALL_CONFIG_VARIABLES, addConfigFlags, flagOf, overridesFrom } from './config-flags.js';

/** Parses `args` with a command that has every config flag; returns the overrides they give. */
function parse(args: string[], variables?: readonly ConfigVariable[]) {
  const command = addConfigFlags(new Command().exitOverride(), variables);
  command.parse(args, { from: 'user' });
  return { command, overrides: overridesFrom(command.opts()) };
}

describe('config flags', () => {
  it('has a flag for every configuration variable, named after it', () => {
    expect(ALL_CONFIG_VARIABLES).toEqual(Object.keys(CONFIG_VARIABLES));
    const flags = addConfigFlags(new Command()).options.map((o) => o.long);
    expect(flags).toEqual(ALL_CONFIG_VARIABLES.map(flagOf));
    expect(flagOf('EARSHOT_LISTEN_TOKEN_TTL_S')).toBe('--listen-token-ttl-s');
    expect(flagOf('EARSHOT_CALL_IDLE_TIMEOUT_S')).toBe('--call-idle-timeout-s');
    expect(flagOf('EARSHOT_MAX_CONNECTIONS_PER_ADDRESS')).toBe('--max-connections-per-address');
  });

  it('gives each flag as an override of its own variable', () => {
    const args = ALL_CONFIG_VARIABLES.flatMap((v, i) => [flagOf(v), `value-${i}`]);
    const { overrides } = parse(args);
    expect(overrides).toEqual(Object.fromEntries(ALL_CONFIG_VARIABLES.map((v, i) => [v, `value-${i}`])));
  });

  it('gives no override for a flag not given (the environment or the default applies)', () => {
    expect(parse([]).overrides).toEqual({});
    expect(parse(['--port', '9000']).overrides).toEqual({ EARSHOT_PORT: '9000' });
  });

  it('reaches loadConfig: the flags of SPEC section 1 set what their variables set', () => {
    const { overrides } = parse([
      '--listen-token-ttl-s',
      '60',
      '--call-idle-timeout-s',
      '5',
      '--log-format',
      'pretty',
      '--max-listeners-per-call',
      '7',
    ]);
    const config = loadConfig({ EARSHOT_LISTEN_TOKEN_TTL_S: '3000' }, overrides);
    expect(config).toMatchObject({
      listenTokenTtlS: 60,
      callIdleTimeoutS: 5,
      logFormat: 'pretty',
      limits: { listenersPerCall: 7 },
    });
  });

  it('adds only the flags asked for', () => {
    const command = addConfigFlags(new Command(), ['EARSHOT_DATABASE_URL']);
    expect(command.options.map((o) => o.flags)).toEqual(['--database-url <url>']);
    expect(command.options[0].description).toBe(
      'overrides EARSHOT_DATABASE_URL (default: sqlite:./data/earshot.db)',
    );
  });
});
