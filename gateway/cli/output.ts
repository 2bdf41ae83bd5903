/**
 * Where a command-line tool writes: one line at a time to stdout (its answer) or stderr (what
 * went wrong). `main` takes an Output, so the tools' logic never reaches for process streams.
 */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** The process's own streams. */
export const STDIO: Output = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};
