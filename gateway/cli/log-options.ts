/**
 * The logging options every command-line tool takes: `--log-level`, `--log-format`, and
 * `--verbose` (the older spelling of `--log-level debug`). The environment variables
 * GW_LOG_LEVEL and GW_LOG_FORMAT are defaults under the flags, for a systemd unit's
 * Environment= line. docs/logging.md describes the output.
 *
 *   const args = parseCommandLine(argv, { ...LOG_OPTIONS, ... });
 *   const logger = loggerFromOptions(args, { level: 'info' });
 */
import { LOG_FORMAT_NAMES, LOG_LEVEL_NAMES, type LogFormat, type LogLevel, type Logger, createConsoleLogger } from '../log.ts';
import { type OptionSpec, type ParsedArgs, UsageError } from './args.ts';

export const LOG_OPTIONS: Record<string, OptionSpec> = {
  'log-level': { value: true },
  'log-format': { value: true },
  verbose: {},
};

/** Lines for a tool's usage text; `level` is that tool's default. */
export function logOptionsUsage(defaults: { level: LogLevel }): string {
  return [
    `  --log-level <l>     debug, info, warn or error (default ${defaults.level}; env GW_LOG_LEVEL)`,
    '  --log-format <f>    text or json, one line per entry on stderr (default text; env GW_LOG_FORMAT)',
    '  --verbose           same as --log-level debug: also one line per request',
  ].join('\n');
}

export interface LogSettings {
  level: LogLevel;
  format: LogFormat;
}

/**
 * Level and format from the flags, then the environment, then `defaults`. A value is matched
 * without regard to case (GW_LOG_LEVEL=INFO is common); an empty variable counts as unset
 * (systemd's `Environment=GW_LOG_LEVEL=` clears it). Throws UsageError for anything else.
 */
export function logSettingsFromOptions(args: ParsedArgs, defaults: { level: LogLevel; format?: LogFormat }, env: NodeJS.ProcessEnv = process.env): LogSettings {
  const flagLevel = choice(args.options['log-level'], LOG_LEVEL_NAMES, '--log-level');
  const verbose = args.options['verbose'] === true;
  if (verbose && flagLevel !== undefined && flagLevel !== 'debug') {
    throw new UsageError(`--verbose means --log-level debug; it cannot be combined with --log-level ${flagLevel}`);
  }
  const level = (verbose ? 'debug' : flagLevel) ?? choice(env['GW_LOG_LEVEL'], LOG_LEVEL_NAMES, 'GW_LOG_LEVEL') ?? defaults.level;
  const format = choice(args.options['log-format'], LOG_FORMAT_NAMES, '--log-format') ?? choice(env['GW_LOG_FORMAT'], LOG_FORMAT_NAMES, 'GW_LOG_FORMAT') ?? defaults.format ?? 'text';
  return { level, format };
}

/**
 * The console logger the options ask for, on stderr. `io` is for tests: another environment
 * (GW_LOG_*, JOURNAL_STREAM) and another stream.
 */
export function loggerFromOptions(args: ParsedArgs, defaults: { level: LogLevel; format?: LogFormat }, io: { env?: NodeJS.ProcessEnv; stream?: NodeJS.WritableStream } = {}): Logger {
  const env = io.env ?? process.env;
  const { level, format } = logSettingsFromOptions(args, defaults, env);
  return createConsoleLogger({ level, format, env, ...(io.stream ? { stream: io.stream } : {}) });
}

function choice<T extends string>(value: unknown, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined) return undefined;
  // An empty variable is unset; an empty flag (`--log-level ''`) is a mistake.
  if (value === '' && !name.startsWith('--')) return undefined;
  const v = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  const found = allowed.find((a) => a === v);
  if (found === undefined) {
    const list = `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}`;
    throw new UsageError(`${name} must be ${list}, got ${JSON.stringify(value)}`);
  }
  return found;
}
