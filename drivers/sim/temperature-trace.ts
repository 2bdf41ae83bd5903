import { basename } from 'node:path';
import { BoundedFileError, readBoundedFileSync } from '../bounded-file.ts';
import { traceProfile, type TemperatureProfile, type TracePoint } from './temperature-profile.ts';

export type TraceFileProblem =
  | 'header' | 'columns' | 'number' | 'negative-time' | 'time-order' | 'below-absolute-zero' | 'empty'
  // The file itself, before any line is read (drivers/bounded-file.ts):
  | 'unreadable' | 'not-regular' | 'too-large';

/**
 * The largest trace file accepted. Parsing costs far more than the file: measured on Node 20, a
 * full 1 MiB (75,000 samples, a week sampled every 8 s) raises peak RSS by about 26 MB and
 * keeps 5 MB of points, while 16 MiB raised it by 250 MB, twice the whole gateway's budget
 * (README, "Benchmarks"). The shipped day (fixtures/) is 1.4 KiB. docs/configuration.md.
 */
export const TRACE_FILE_MAX_BYTES = 2 ** 20;

/**
 * A trace file that cannot be used. `code` is stable for tests and the error catalogue;
 * `line` (1-based) and `problem` say where and what, so an operator can fix the file.
 */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';
  readonly code = 'GW_ERR_SIM_TRACE_FILE' as const;
  readonly source: string;
  readonly line: number | undefined;
  readonly problem: TraceFileProblem;
  constructor(source: string, line: number | undefined, problem: TraceFileProblem, detail: string, cause?: unknown) {
    super(`${source}${line === undefined ? '' : `:${line}`}: ${detail}`, { cause });
    this.source = source;
    this.line = line;
    this.problem = problem;
  }
}

const HEADER = 'seconds,celsius';
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Parse a `seconds,celsius` CSV: a header line, then one sample per line. Blank lines and lines
 * starting with `#` are skipped; times must be >= 0 and strictly increasing; every bad row is an
 * error (a trace that silently skips rows replays a different day).
 */
export function parseTraceCsv(text: string, source = 'trace'): TracePoint[] {
  const lines = text.split(/\r?\n/);
  const points: TracePoint[] = [];
  let sawHeader = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!sawHeader) {
      if (line.replace(/\s+/g, '').toLowerCase() !== HEADER) {
        throw new TraceFileError(source, lineNo, 'header', `expected the header "${HEADER}", found "${line}"`);
      }
      sawHeader = true;
      continue;
    }
    const fields = line.split(',').map((f) => f.trim());
    if (fields.length !== 2) throw new TraceFileError(source, lineNo, 'columns', `expected 2 columns (seconds,celsius), found ${fields.length}`);
    const [secondsText, celsiusText] = fields as [string, string];
    if (!NUMBER.test(secondsText)) throw new TraceFileError(source, lineNo, 'number', `seconds "${secondsText}" is not a number`);
    if (!NUMBER.test(celsiusText)) throw new TraceFileError(source, lineNo, 'number', `celsius "${celsiusText}" is not a number`);
    const seconds = Number(secondsText);
    const celsius = Number(celsiusText);
    if (seconds < 0) throw new TraceFileError(source, lineNo, 'negative-time', `seconds must be >= 0, found ${seconds}`);
    const previous = points[points.length - 1];
    if (previous && !(seconds * 1000 > previous.tMs)) {
      throw new TraceFileError(source, lineNo, 'time-order', `seconds must increase strictly: ${seconds} after ${previous.tMs / 1000}`);
    }
    if (celsius < -273.15) throw new TraceFileError(source, lineNo, 'below-absolute-zero', `celsius ${celsius} is below absolute zero`);
    points.push({ tMs: seconds * 1000, celsius });
  }
  if (!sawHeader) throw new TraceFileError(source, undefined, 'empty', `the file is empty (expected the header "${HEADER}")`);
  if (points.length === 0) throw new TraceFileError(source, undefined, 'empty', 'the file has a header but no samples');
  return points;
}

/**
 * Load a trace CSV (see {@link parseTraceCsv}) as a profile named after the file. Only a regular
 * file (a symlink's target counts) of at most TRACE_FILE_MAX_BYTES is read.
 */
export function loadTraceProfile(path: string): TemperatureProfile {
  const name = basename(path);
  let text: string;
  try {
    text = readBoundedFileSync(path, { maxBytes: TRACE_FILE_MAX_BYTES }).toString('utf8');
  } catch (err) {
    if (err instanceof BoundedFileError) throw new TraceFileError(name, undefined, err.problem, `${path} ${err.reason}`, err);
    throw err;
  }
  return traceProfile(parseTraceCsv(text, name), `trace ${name}`);
}
