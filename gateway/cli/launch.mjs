// How `npm start` runs the gateway: its TypeScript bundled by esbuild (the compiler tsx itself
// runs) into one plain ES module, loaded by plain Node. Run under `node --import tsx`, the
// gateway would keep tsx's loader thread for its whole life: about 35 MB of RSS, a quarter of
// the gateway's memory budget on a Pi (README, "Benchmarks"). The bundle is made from the
// sources at hand on every start (a few hundred ms), so it is never stale; if it cannot be made,
// the gateway starts under tsx as before, and says so.
//
//   node gateway/cli/launch.mjs gateway/cli/start.ts [options of start.ts]
//
// In each source file (.ts and .mjs) `import.meta.url` is replaced by that file's own URL, so
// everything located from it (the project root, worker entries, boot.mjs, native addons found
// through createRequire) is where it is when the sources run under tsx.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUNDLE_OPTIONS, writeBundle } from '../bundle-file.mjs';

// esbuild's synchronous API (spawn.ts bundles worker entries with it) otherwise serves calls
// from a worker thread with an esbuild process of its own; with this it runs esbuild once per
// call and nothing is left behind. Read when esbuild loads, so set before it does.
process.env.ESBUILD_WORKER_THREADS = '0';

const entry = process.argv[2];
if (!entry || !entry.endsWith('.ts')) {
  console.error('usage: node gateway/cli/launch.mjs <entry.ts> [arguments]');
  process.exit(2);
}
// The entry reads its own arguments from process.argv.slice(2), as when run directly.
process.argv.splice(2, 1);
const entryFile = path.resolve(entry);

async function bundle() {
  const { build, stop } = await import('esbuild');
  const ownUrl = {
    name: 'own-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.(ts|mjs)$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: args.path.endsWith('.ts') ? 'ts' : 'js' };
      });
    },
  };
  // build() starts esbuild's service process; stop() ends it, or it would live as long as the
  // gateway (about 12 MB).
  const result = await build({ ...BUNDLE_OPTIONS, entryPoints: [entryFile], plugins: [ownUrl] }).finally(() => stop());
  return writeBundle(path.basename(entryFile, '.ts'), result.outputFiles[0].contents);
}

let file;
try {
  file = await bundle();
} catch (err) {
  console.error(`launch: could not bundle ${entry} (${err instanceof Error ? err.message.split('\n')[0] : err}); starting it under tsx instead`);
}
if (file) {
  await import(pathToFileURL(file).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entryFile).href);
}
