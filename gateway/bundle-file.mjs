// Bundled JavaScript made from the gateway's TypeScript: esbuild (the compiler tsx itself runs)
// turns each entry and everything of ours it imports into one plain ES module, so the gateway
// runs on plain Node without tsx's loader thread (about 35 MB, docs/threading.md).
//
// Two producers, one place (build/bundles/, inside the project so a bundle's imports of npm
// packages resolve from its node_modules):
// - gateway/cli/build-bundles.mjs, at install (`npm ci` runs it) or by `npm run build`, makes the
//   bundles `npm start`, `npm run read`, `npm run doctor` and their workers run, and a manifest
//   of the sources they were made from. Nothing is built at start: the tree may be read-only.
// - gateway/host/worker/spawn.ts, when the gateway runs from its TypeScript under tsx (the tests,
//   a developer), bundles a worker's entry on the fly with writeBundle below.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const BUNDLE_DIR = fileURLToPath(new URL('../build/bundles/', import.meta.url));
export const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));
export const MANIFEST_FILE = path.join(BUNDLE_DIR, 'manifest.json');

/**
 * esbuild options of every bundle: one ES module for Node 20 with our sources in it; npm
 * packages stay imports (i2c-bus is a native addon; all resolve from the project's node_modules).
 */
export const BUNDLE_OPTIONS = Object.freeze({ bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', write: false, logLevel: 'silent' });

/**
 * An esbuild plugin that replaces `import.meta.url` in each of our source files by that file's
 * own URL, so everything located from it (the project root, worker entries, boot.mjs, native
 * addons found through createRequire) is where it is when the sources run under tsx. The URL is
 * made at run time from the bundle's own location (`new URL('../../gateway/x.ts',
 * import.meta.url)`), not written in as an absolute path: a tree built in one place and copied
 * to another (deploy/install-service.sh copies it to /opt) finds its own files, not the
 * original's.
 */
export const ownImportMetaUrl = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.(ts|mjs)$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const fromBundle = path.relative(BUNDLE_DIR, args.path).split(path.sep).join('/');
      const own = `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`;
      return { contents: source.replaceAll('import.meta.url', own), loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
    });
  },
};

export const sha256Hex = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The files build/bundles/manifest.json names (gateway/cli/build-bundles.mjs writes it). */
function installedBundleFiles() {
  try {
    return new Set(Object.values(JSON.parse(readFileSync(MANIFEST_FILE, 'utf8')).bundles ?? {}));
  } catch {
    return new Set();
  }
}

/** Bundles of older sources are removed once they have not been written for this long. */
const STALE_MS = 24 * 3600_000;

/**
 * Writes `code` as build/bundles/<name>.<hash>.mjs and returns the file's path. It is written
 * beside its final name and renamed, so a process starting at the same moment never loads half
 * a file. Other bundles of the same name not written for a day go, unless the manifest of the
 * installed build names them: a gateway still running one has loaded it long ago.
 */
export function writeBundle(name, code) {
  const keep = installedBundleFiles();
  const file = path.join(BUNDLE_DIR, `${name}.${sha256Hex(code).slice(0, 12)}.mjs`);
  mkdirSync(BUNDLE_DIR, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  writeFileSync(partial, code);
  renameSync(partial, file);
  for (const other of readdirSync(BUNDLE_DIR)) {
    const at = path.join(BUNDLE_DIR, other);
    if (!other.startsWith(`${name}.`) || at === file || keep.has(other)) continue;
    try {
      if (Date.now() - statSync(at).mtimeMs > STALE_MS) unlinkSync(at);
    } catch {
      // another process removed it first
    }
  }
  return file;
}
