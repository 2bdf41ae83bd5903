// What `npm run build` (gateway/cli/build-bundles.mjs) made, and whether it still matches the
// sources: build/bundles/manifest.json names each bundle and the sha256 of every source file it
// was made from. The launcher refuses to run bundles whose sources have changed since (a
// developer who edited a file and forgot `npm run build` would otherwise run yesterday's code),
// and spawn.ts starts workers from the bundles the launcher checked.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLE_DIR, MANIFEST_FILE, PROJECT_ROOT, sha256Hex } from './bundle-file.mjs';

/** Each bundle by name: the commands `launch.mjs <name>` runs, and the workers they start. */
export const BUNDLE_ENTRIES = Object.freeze({
  start: 'gateway/cli/start.ts',
  read: 'gateway/cli/read.ts',
  doctor: 'gateway/cli/doctor.ts',
  client: 'gateway/cli/client.ts',
  sim: 'gateway/cli/sim.ts',
  'module-worker': 'gateway/host/worker/module-worker.ts',
  'bus-worker': 'gateway/host/worker/bus-worker.ts',
});

/** The commands the launcher runs (the rest are worker entries). */
export const COMMANDS = Object.freeze(['start', 'read', 'doctor', 'client', 'sim']);

/** Where the launcher leaves the checked manifest for spawn.ts (same process, no file read). */
export const INSTALLED_BUNDLES = Symbol.for('coap-sensor-gateway.installed-bundles');

export class BundleProblem extends Error {
  /** GW_ERR_BUILD_MISSING or GW_ERR_BUILD_STALE (gateway/errors.ts). */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const FIX = 'run `npm run build` in the project (npm ci does it too)';

/** Reads and checks the manifest; throws BundleProblem when a bundle is missing or stale. */
export function checkedManifest() {
  if (!existsSync(MANIFEST_FILE)) throw new BundleProblem('GW_ERR_BUILD_MISSING', `no ${path.relative(PROJECT_ROOT, MANIFEST_FILE)}: the gateway has not been built: ${FIX}`);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST_FILE, 'utf8'));
  } catch (err) {
    throw new BundleProblem('GW_ERR_BUILD_MISSING', `${path.relative(PROJECT_ROOT, MANIFEST_FILE)} is unreadable (${err.message}): ${FIX}`);
  }
  if (manifest.format !== 1 || Object.keys(manifest.inputs ?? {}).length === 0) {
    throw new BundleProblem('GW_ERR_BUILD_MISSING', `${path.relative(PROJECT_ROOT, MANIFEST_FILE)} is not one this version writes: ${FIX}`);
  }
  for (const name of Object.keys(BUNDLE_ENTRIES)) {
    const file = manifest.bundles?.[name];
    const at = file ? path.join(BUNDLE_DIR, file) : undefined;
    if (!at || !existsSync(at)) throw new BundleProblem('GW_ERR_BUILD_MISSING', `the ${name} bundle is missing from build/bundles: ${FIX}`);
    // A bundle's name carries the start of its content's sha256 (bundle-file.mjs): a file cut
    // short by a full disk or an interrupted copy is caught here, not as a syntax error later.
    if (!file.endsWith(`.${sha256Hex(readFileSync(at)).slice(0, 12)}.mjs`)) {
      throw new BundleProblem('GW_ERR_BUILD_MISSING', `build/bundles/${file} does not match its content (damaged or cut short): ${FIX}`);
    }
  }
  const changed = [];
  for (const [rel, hash] of Object.entries(manifest.inputs ?? {})) {
    let now;
    try {
      now = sha256Hex(readFileSync(path.join(PROJECT_ROOT, rel)));
    } catch {
      now = 'missing';
    }
    if (now !== hash) changed.push(rel);
  }
  if (changed.length > 0) {
    const some = changed.slice(0, 3).join(', ') + (changed.length > 3 ? ` and ${changed.length - 3} more` : '');
    throw new BundleProblem('GW_ERR_BUILD_STALE', `the sources changed since the bundles were built (${some}): ${FIX}`);
  }
  return manifest;
}
