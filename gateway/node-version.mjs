// The Node.js the gateway needs, checked before anything else loads (gateway/cli/launch.mjs,
// gateway/cli/build-bundles.mjs). Plain JavaScript any Node parses, so an old Node gets this
// message rather than a syntax error or, worse, a failure blamed on a sensor module: under
// Node 18 `globalThis.crypto` is undefined and a Go module's start-up traps on it
// (shared notes, tmp102-and-pi.md). package.json's "engines" says the same (test/launch.test.ts
// keeps them equal), and .npmrc's engine-strict makes npm refuse to install on an older Node.
export var REQUIRED_NODE_MAJOR = 20;

/** A one-line coded error when `version` (process.versions.node) is too old, else undefined. */
export function nodeVersionProblem(version) {
  var major = Number(String(version).split('.')[0]);
  if (major >= REQUIRED_NODE_MAJOR) return undefined;
  return (
    'error GW_ERR_NODE_VERSION: Node.js ' + version + ' is too old: the gateway needs Node.js >= ' + REQUIRED_NODE_MAJOR +
    ' (Debian trixie and Raspberry Pi OS trixie: sudo apt install nodejs; bookworm ships 18: see README, "On a Raspberry Pi")'
  );
}
