#!/usr/bin/env node
// `npm run build` (and npm ci / npm install, as postinstall): bundles every command and worker
// entry (gateway/bundle-manifest.mjs, BUNDLE_ENTRIES) into build/bundles/, and writes the manifest
// the launcher checks. The only step of an install that writes into the project; `npm start` and
// the service write nothing there, so the installed tree can be read-only.
//
// Prints one line per bundle; exit 1 with esbuild's message when a source does not compile.
import { nodeVersionProblem } from '../node-version.mjs';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  console.error(problem);
  process.exit(1);
}

const { readFileSync, renameSync, writeFileSync } = await import('node:fs');
const path = (await import('node:path')).default;
const { BUNDLE_DIR, BUNDLE_OPTIONS, MANIFEST_FILE, PROJECT_ROOT, ownImportMetaUrl, sha256Hex, writeBundle } = await import('../bundle-file.mjs');
const { BUNDLE_ENTRIES } = await import('../bundle-manifest.mjs');

const esbuild = await import('esbuild');
const started = Date.now();
const bundles = {};
const codes = {};
const inputs = {};
try {
  for (const [name, entry] of Object.entries(BUNDLE_ENTRIES)) {
    const result = await esbuild.build({ ...BUNDLE_OPTIONS, absWorkingDir: PROJECT_ROOT, entryPoints: [entry], plugins: [ownImportMetaUrl], metafile: true });
    codes[name] = result.outputFiles[0].contents;
    for (const input of Object.keys(result.metafile.inputs)) {
      inputs[input] ??= sha256Hex(readFileSync(path.join(PROJECT_ROOT, input)));
    }
  }
} catch (err) {
  console.error(`build-bundles: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
} finally {
  // build() starts esbuild's service process; stop() ends it so this command can exit.
  await esbuild.stop?.();
}
// The new bundles first, then the manifest naming them, each renamed into place: a gateway
// starting meanwhile sees the old manifest and its (kept) bundles, or the new ones.
for (const [name, code] of Object.entries(codes)) bundles[name] = path.basename(writeBundle(name, code));
const manifest = { format: 1, builtWith: process.version, bundles, entries: BUNDLE_ENTRIES, inputs: Object.fromEntries(Object.entries(inputs).sort()) };
const partial = `${MANIFEST_FILE}.${process.pid}.partial`;
writeFileSync(partial, `${JSON.stringify(manifest, null, 2)}\n`);
renameSync(partial, MANIFEST_FILE);
for (const [name, file] of Object.entries(bundles)) console.log(`  bundle ${name.padEnd(14)} ${path.relative(PROJECT_ROOT, path.join(BUNDLE_DIR, file))}  (${(codes[name].length / 1024).toFixed(0)} KiB)`);
console.log(`build-bundles: ${Object.keys(bundles).length} bundles from ${Object.keys(inputs).length} source files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
