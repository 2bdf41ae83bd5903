/**
 * Command-line parsing for the gateway's tools. node:util parseArgs refuses
 * `--sim-temp -12.25` as ambiguous; a temperature below zero is an ordinary value here, so
 * options that take a value take the next argument verbatim.
 */
export interface OptionSpec {
  /** Takes a value (`--port 5683`); otherwise a flag (`--json`). */
  value?: boolean;
  /** May be given several times; values collect in an array. */
  multiple?: boolean;
  short?: string;
}

export interface ParsedArgs {
  options: Record<string, string | boolean | string[]>;
  positionals: string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseCommandLine(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  const positionals: string[] = [];
  const byShort = new Map(Object.entries(spec).filter(([, s]) => s.short).map(([name, s]) => [s.short!, name]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    } else if (/^-[A-Za-z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (!name) throw new UsageError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    if (!s.value) {
      if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    if (s.multiple) options[name] = [...((options[name] as string[] | undefined) ?? []), value];
    else options[name] = value;
  }
  return { options, positionals };
}

export function numberOption(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** 7-bit I2C address given as 0x48 or 72. */
export function addressOption(args: ParsedArgs, name: string): number | undefined {
  const v = args.options[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' ? (/^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0x7f) throw new UsageError(`--${name} must be a 7-bit I2C address such as 0x48, got ${JSON.stringify(v)}`);
  return n;
}

/** A TMP102 address: ADD0 to GND 0x48, V+ 0x49, SDA 0x4a, SCL 0x4b (datasheet SBOS397 table 4). */
export function tmp102AddressOption(args: ParsedArgs, name: string): number | undefined {
  const n = addressOption(args, name);
  if (n !== undefined && (n < 0x48 || n > 0x4b)) {
    throw new UsageError(`--${name} must be a TMP102 address, 0x48..0x4b (ADD0 to GND, V+, SDA or SCL), got ${args.options[name] as string}`);
  }
  return n;
}

/** An I2C adapter number N of /dev/i2c-N. */
export function busOption(args: ParsedArgs, name: string): number | undefined {
  const n = numberOption(args, name);
  if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 255)) throw new UsageError(`--${name} must be an I2C adapter number 0..255 (N of /dev/i2c-N), got ${n}`);
  return n;
}
