// Bundles the guest-side tests (test/kernel/*.kernel-test.ts) into build/kernel/*.kernel-test.mjs
// with esbuild, on the host, so the guest runs plain JavaScript: under QEMU's software emulation
// tsx's start-up and per-file transforms cost 15 s or more, a bundle loads in about a second.
// npm packages stay external (resolved from the project's node_modules, as on the host).
//
// The bundles sit two levels below the project root, like the sources they come from, so code
// that finds the root from its own location (test/helpers/chain.ts, gateway/service/config.ts:
// import.meta.url + '../..') finds the same root.
//
// esbuild is tsx's own dependency: resolved from tsx's location, nothing extra to install.
import { createRequire } from 'node:module';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(createRequire(path.join(root, 'package.json')).resolve('tsx'));
const esbuild = require('esbuild');

const outdir = path.join(root, 'build', 'kernel');
for (const old of readdirSync(outdir, { withFileTypes: true })) {
  if (old.isFile() && old.name.endsWith('.kernel-test.mjs')) rmSync(path.join(outdir, old.name));
}
const sources = readdirSync(path.join(root, 'test', 'kernel'))
  .filter((name) => name.endsWith('.kernel-test.ts'))
  .map((name) => path.join(root, 'test', 'kernel', name));
if (sources.length === 0) throw new Error('no test/kernel/*.kernel-test.ts');

await esbuild.build({
  entryPoints: sources,
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
});
console.log(`bundled ${sources.map((s) => path.relative(root, s)).join(', ')} into ${path.relative(root, outdir)}/`);
