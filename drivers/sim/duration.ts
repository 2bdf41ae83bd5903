/**
 * Durations as people write them in scenario files and on the command line: "250ms", "30s",
 * "10m", "1h", "1d", or a plain number of seconds ("1.5", 90). One parser for both, so a
 * duration that works in a file works on `npm run sim` too (docs/simulation.md).
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds; throws RangeError naming what was given. Negative, NaN and infinite values are refused. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`a duration must be a number of seconds >= 0 or a string such as "30s", got ${value}`);
    return value * 1000;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new RangeError(`a duration must look like "250ms", "30s", "10m", "1h", "1d" or a number of seconds, got ${JSON.stringify(value)}`);
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 's']!;
  if (!Number.isFinite(ms)) throw new RangeError(`duration out of range: ${JSON.stringify(value)}`);
  return ms;
}

/** The shortest exact form for logs and status: 90000 -> "90s", 5400000 -> "90m", 250 -> "250ms". */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${Math.round(ms * 1000) / 1000}ms`;
}
