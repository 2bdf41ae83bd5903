/** A command-line option that must be a positive finite number: its value, or a usage error (exit 2). */
export function positiveOption(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) {
    console.error(`--${name} must be a positive number, got ${v}`);
    process.exit(2);
  }
  return n;
}
