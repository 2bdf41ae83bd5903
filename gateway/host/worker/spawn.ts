/**
 * Starting a gateway worker. A worker gets none of its parent's loader hooks (Node 20), so a
 * TypeScript entry needs a loader of its own, and a worker that registers tsx also starts
 * tsx's loader thread: about 20 MB and 200 ms more per worker (measured: docs/threading.md,
 * "Loading TypeScript: bundles, not loader threads"). So a worker's TypeScript entry is bundled once per
 * process into one plain JavaScript file with esbuild, the compiler tsx itself runs, and the
 * worker loads that (gateway/bundle-file.mjs says where). The bundle is made from the sources
 * at hand every time the gateway starts, so it is never stale. Worker code locates nothing
 * from import.meta.url but the i2c-bus addon, which resolves the same from build/bundles/
 * (gateway/cli/launch.mjs rewrites import.meta.url for the main thread). Should bundling fail
 * (a read-only tree, no esbuild), boot.mjs registers tsx in the worker as before.
 *
 * The parent's execArgv is not inherited: the tsx flags in it do not work in a worker and
 * only slow its start, and test-runner flags are refused there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { buildSync as BuildSync } from 'esbuild';
import { BUNDLE_OPTIONS, writeBundle } from '../../bundle-file.mjs';

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

function loadableEntry(entry: URL): string {
  if (!entry.pathname.endsWith('.ts') || bundlingFailed !== undefined) return entry.href;
  try {
    let known = bundles.get(entry.href);
    if (known === undefined) {
      const esbuild = createRequire(import.meta.url)('esbuild') as { buildSync: typeof BuildSync; stop: () => Promise<void> };
      const result = esbuild.buildSync({ ...BUNDLE_OPTIONS, entryPoints: [fileURLToPath(entry)] });
      // Unless ESBUILD_WORKER_THREADS=0 (the launcher sets it), buildSync keeps a worker thread
      // and an esbuild process for later calls: about 25 MB for the gateway's whole life.
      // stop() ends them; a later call would start afresh.
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
