import { AppError } from './app-error.js';

/** SPEC §7: what one organization, call or client address may hold at once (EARSHOT_MAX_*). */
export interface Limits {
  readonly listenersPerCall: number;
  readonly listenersPerOrg: number;
  readonly participantsPerCall: number;
  readonly activeCallsPerOrg: number;
  readonly connectionsPerAddress: number;
}

/** Each limit's words in messages, its variable, and its metric label. */
export const LIMIT_NAMES: Record<keyof Limits, { what: string; variable: string; metric: string }> = {
  listenersPerCall: {
    what: 'listeners per call',
    variable: 'EARSHOT_MAX_LISTENERS_PER_CALL',
    metric: 'listeners_per_call',
  },
  listenersPerOrg: {
    what: 'listeners per organization',
    variable: 'EARSHOT_MAX_LISTENERS_PER_ORG',
    metric: 'listeners_per_org',
  },
  participantsPerCall: {
    what: 'participants per call',
    variable: 'EARSHOT_MAX_PARTICIPANTS_PER_CALL',
    metric: 'participants_per_call',
  },
  activeCallsPerOrg: {
    what: 'active calls per organization',
    variable: 'EARSHOT_MAX_ACTIVE_CALLS_PER_ORG',
    metric: 'active_calls_per_org',
  },
  connectionsPerAddress: {
    what: 'connections per client address',
    variable: 'EARSHOT_MAX_CONNECTIONS_PER_ADDRESS',
    metric: 'connections_per_address',
  },
};

/** The QUOTA_EXCEEDED error for a limit: its message names the limit, its value and its variable. */
export function quotaExceeded(limit: keyof Limits, value: number): AppError {
  const { what, variable } = LIMIT_NAMES[limit];
  return new AppError('QUOTA_EXCEEDED', `Limit of ${value} ${what} reached (${variable})`);
}
