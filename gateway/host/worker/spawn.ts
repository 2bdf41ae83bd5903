/**
 * Starting a gateway worker. A worker gets none of its parent's loader hooks (Node 20), so a
 * TypeScript entry needs a loader of its own, and a worker that registers tsx also starts
 * tsx's loader thread: about 20 MB and 200 ms more per worker (measured: docs/threading.md,
 * "Loading TypeScript: bundles, not loader threads"). So workers load plain JavaScript bundles:
 *
 * - Run by the launcher (`npm start`, the service), the gateway starts each worker from the
 *   bundle `npm run build` made of its entry, which the launcher checked against the sources
 *   (gateway/bundle-manifest.mjs). Nothing is written: the tree may be read-only.
 * - Run from its TypeScript (the tests, a developer under tsx), a worker's entry is bundled once
 *   per process with esbuild into build/bundles (gateway/bundle-file.mjs); should that fail,
 *   boot.mjs registers tsx in the worker instead.
 *
 * Worker code locates nothing from import.meta.url but the i2c-bus addon, which resolves the
 * same from build/bundles/. The parent's execArgv is not inherited: the tsx flags in it do not
 * work in a worker and only slow its start, and test-runner flags are refused there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { buildSync as BuildSync } from 'esbuild';
import { BUNDLE_OPTIONS, PROJECT_ROOT, writeBundle } from '../../bundle-file.mjs';
import { INSTALLED_BUNDLES } from '../../bundle-manifest.mjs';

const BOOT = new URL('./boot.mjs', import.meta.url);

/** Per entry: the bundle's code (kept, to write it again if the file goes) and where it is. */
const bundles = new Map<string, { name: string; code: Uint8Array; file: string }>();
let bundlingFailed: string | undefined;

export function spawnWorker(entry: URL, data: Record<string, unknown>, options: { name: string; resourceLimits?: ResourceLimits }): Worker {
  return new Worker(BOOT, {
    workerData: { ...data, bootEntry: loadableEntry(entry) },
    execArgv: [],
    name: options.name,
    resourceLimits: options.resourceLimits,
  });
}

/** Why workers boot through tsx instead of a bundle, if they do. */
export function workerBundlingFailure(): string | undefined {
  return bundlingFailed;
}

interface InstalledBundles {
  dir: string;
  bundles: Record<string, string>;
  entries: Record<string, string>;
}

function loadableEntry(entry: URL): string {
  const installed = (globalThis as { [INSTALLED_BUNDLES]?: InstalledBundles })[INSTALLED_BUNDLES];
  if (installed !== undefined && entry.pathname.endsWith('.ts')) {
    const rel = path.relative(PROJECT_ROOT, fileURLToPath(entry)).split(path.sep).join('/');
    const name = Object.keys(installed.entries).find((n) => installed.entries[n] === rel);
    const file = name === undefined ? undefined : installed.bundles[name];
    // Every worker entry is in BUNDLE_ENTRIES (gateway/bundle-manifest.mjs); one that is not is
    // a programming error, caught by test/launch.test.ts.
    if (file === undefined) throw new Error(`no installed bundle for the worker entry ${rel}`);
    return pathToFileURL(path.join(installed.dir, file)).href;
  }
  if (!entry.pathname.endsWith('.ts') || bundlingFailed !== undefined) return entry.href;
  try {
    let known = bundles.get(entry.href);
    if (known === undefined) {
      const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync: typeof BuildSync; stop: () => Promise<void> };
      const result = esbuild.buildSync({ ...BUNDLE_OPTIONS, entryPoints: [fileURLToPath(entry)] });
      // buildSync keeps a worker thread and an esbuild process for later calls: about 25 MB for
      // the process's whole life. stop() ends them; a later call would start afresh. (Only under
      // tsx: run by the launcher, workers start from the installed bundles and esbuild never loads.)
      void esbuild.stop();
      const name = path.basename(entry.pathname, '.ts');
      const code = result.outputFiles[0]!.contents;
      known = { name, code, file: writeBundle(name, code) };
      bundles.set(entry.href, known);
    } else if (!existsSync(known.file)) {
      // Removed under us (build/ cleaned, or pruned by a process running newer sources): a
      // worker restarted days after start-up still gets the code this gateway was started with.
      known.file = writeBundle(known.name, known.code);
    }
    return pathToFileURL(known.file).href;
  } catch (err) {
    bundlingFailed = err instanceof Error ? err.message : String(err);
    return entry.href;
  }
}
