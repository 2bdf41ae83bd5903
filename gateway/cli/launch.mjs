#!/usr/bin/env node
// How `npm start`, `npm run read` and `npm run doctor` run: the Node version is checked first,
// then the bundle `npm run build` made of the command (gateway/cli/build-bundles.mjs) is checked
// against its sources and loaded by plain Node. Nothing is built or written here, so the
// project may be read-only (a service's tree owned by root). Run under `node --import tsx`
// instead, the gateway would keep tsx's loader thread for its whole life: about 35 MB of RSS
// (docs/threading.md).
//
//   node gateway/cli/launch.mjs <start|read|doctor|client|sim> [options of that command]
//
// Exit status 1 with one coded line when Node is too old (GW_ERR_NODE_VERSION) or the bundles
// are missing or older than the sources (GW_ERR_BUILD_MISSING, GW_ERR_BUILD_STALE); 2 for an
// unknown command. Written in plain, old JavaScript so that an old Node reaches the version
// check instead of failing on syntax.
import { stderrErrorPrefix } from '../journal-stream.mjs';
import { nodeVersionProblem } from '../node-version.mjs';

var problem = nodeVersionProblem(process.versions.node);
if (problem) {
  // At error priority under systemd (sd-daemon(3)), as every other start-up failure.
  console.error(stderrErrorPrefix() + problem);
  process.exit(1);
}

import('./launch-bundle.mjs')
  .then(function (m) {
    return m.launch(process.argv);
  })
  .catch(function (err) {
    // A bundle that cannot load: most often an npm package missing (a tree copied without its
    // node_modules, or `npm ci` not run for this Node). One coded line, not a stack trace.
    var missing = err && err.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package '([^']+)'/.exec(err.message);
    if (missing) {
      console.error(stderrErrorPrefix() + 'error GW_ERR_BUILD_MISSING: the package ' + missing[1] + ' is not installed: run `npm ci` in the project');
    } else {
      console.error(stderrErrorPrefix() + (err && err.stack ? err.stack : String(err)));
    }
    process.exit(1);
  });
