// Where bundled JavaScript made from the gateway's TypeScript goes (gateway/cli/launch.mjs for
// the gateway's own thread, gateway/host/worker/spawn.ts for its workers): build/bundles/, inside
// the project so a bundle's imports of npm packages resolve from its node_modules. A bundle's
// name carries a hash of its content, and it is written beside its final name and renamed, so
// a process starting at the same moment never loads half a file.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE_DIR = fileURLToPath(new URL('../build/bundles/', import.meta.url));

/**
 * esbuild options of every bundle: one ES module for Node 20 with our sources in it; npm
 * packages stay imports (i2c-bus is a native addon; all resolve from the project's node_modules).
 */
export const BUNDLE_OPTIONS = Object.freeze({ bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', write: false, logLevel: 'silent' });

/** Bundles of older sources are removed once they have not been written for this long. */
const STALE_MS = 24 * 3600_000;

/**
 * Writes `code` as build/bundles/<name>.<hash>.mjs and returns the file's path. Other bundles
 * of the same name not written for a day go: a gateway still running one has loaded it long
 * ago, and writes it again before it starts another worker from it (spawn.ts).
 */
export function writeBundle(name, code) {
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
  const file = path.join(BUNDLE_DIR, `${name}.${hash}.mjs`);
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, file);
  for (const other of readdirSync(BUNDLE_DIR)) {
    if (!other.startsWith(`${name}.`) || path.join(BUNDLE_DIR, other) === file) continue;
    try {
      const at = path.join(BUNDLE_DIR, other);
      if (Date.now() - statSync(at).mtimeMs > STALE_MS) unlinkSync(at);
    } catch {
      // another process removed it first
    }
  }
  return file;
}
