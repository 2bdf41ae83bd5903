// The second half of gateway/cli/launch.mjs, loaded once the Node version is known to be new
// enough: checks the manifest and imports the command's bundle.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUNDLE_DIR } from '../bundle-file.mjs';
import { stderrErrorPrefix } from '../journal-stream.mjs';
import { BundleProblem, COMMANDS, INSTALLED_BUNDLES, checkedManifest } from '../bundle-manifest.mjs';

export async function launch(argv) {
  const name = argv[2];
  if (!COMMANDS.includes(name)) {
    console.error(`usage: node gateway/cli/launch.mjs <${COMMANDS.join('|')}> [options]`);
    process.exit(2);
  }
  let manifest;
  try {
    manifest = checkedManifest();
  } catch (err) {
    if (!(err instanceof BundleProblem)) throw err;
    // Under systemd the line goes to the journal at error priority (sd-daemon(3)), so
    // `journalctl -p warning` shows why the service did not start.
    console.error(`${stderrErrorPrefix()}error ${err.code}: ${err.message}`);
    process.exit(1);
  }
  // spawn.ts starts workers from these bundles, checked above with the rest.
  globalThis[INSTALLED_BUNDLES] = { dir: BUNDLE_DIR, bundles: manifest.bundles, entries: manifest.entries };
  // The command reads its own arguments from process.argv.slice(2), as when run directly.
  argv.splice(2, 1);
  await import(pathToFileURL(path.join(BUNDLE_DIR, manifest.bundles[name])).href);
}
