#!/usr/bin/env node
// npm run new-module -- <name> [--dir <path>] [--address 0x48]
//
// Writes a sensor module skeleton (wasm-src/new-module-files.mjs) that builds for GOOS=wasip1
// and whose tests pass as generated: go.mod requiring the module kit with a `replace` to this
// checkout's wasm-src/ (so it builds offline), main.go with the three exports, a driver against
// a small Bus interface, tests against the kit's simulated chip (gwabi/gwtest), a gateway
// configuration and a README with the next steps.
//
// The default directory is ./<name>-module under the directory npm was started from (npm runs
// scripts from the package root, and says where it was started in INIT_CWD): a new module is
// the author's own code, so it does not land in wasm-src/modules/, whose every module is built
// into the shipped modules/ and checked byte for byte by CI (`npm run check:modules`).
// An existing directory is never written into. No dependencies; Node >= 18 runs it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleFiles } from './new-module-files.mjs';

const KIT_DIR = path.dirname(fileURLToPath(import.meta.url));
const GATEWAY_DIR = path.dirname(KIT_DIR);
const USAGE = 'usage: npm run new-module -- <name> [--dir <path>] [--address 0x48]';

// Go keywords (https://go.dev/ref/spec#Keywords): not a package name.
const GO_KEYWORDS = new Set([
  'break', 'case', 'chan', 'const', 'continue', 'default', 'defer', 'else', 'fallthrough', 'for', 'func',
  'go', 'goto', 'if', 'import', 'interface', 'map', 'package', 'range', 'return', 'select', 'struct',
  'switch', 'type', 'var',
]);

function fail(msg, status = 2) {
  console.error(`new-module: ${msg}`);
  process.exit(status);
}

/**
 * A name is a Go package name in the lower-case form Go style asks for (a letter, then letters,
 * digits or underscores; not a keyword), and it is also the gateway's sensor name and CoAP
 * path segment, which allow at most 32 characters (docs/configuration.md, "sensors[]").
 */
export function nameProblem(name) {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) return 'must be a Go package name in lower case: a letter, then letters, digits or _ (e.g. sht31)';
  if (name.length > 32) return 'must be at most 32 characters (the gateway\'s sensor names)';
  if (GO_KEYWORDS.has(name)) return 'is a Go keyword';
  return undefined;
}

/**
 * A 7-bit address outside the ranges I2C reserves (UM10204 section 3.1.12, table 4: 0x00-0x07
 * general call, START byte, CBUS, HS-mode; 0x78-0x7F 10-bit addressing and future use).
 */
export function parseAddress(text) {
  const n = /^0x[0-9a-f]{1,2}$/i.test(text) ? Number.parseInt(text.slice(2), 16) : /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 0x08 || n > 0x77) return undefined;
  return n;
}

function parseArgs(argv) {
  const opts = { name: undefined, dir: undefined, address: 0x48 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (a === '--dir') {
      opts.dir = argv[++i];
      if (!opts.dir) fail(`--dir needs a path\n${USAGE}`);
    } else if (a === '--address') {
      const text = argv[++i] ?? '';
      opts.address = parseAddress(text);
      if (opts.address === undefined) fail(`--address must be a 7-bit I2C address 0x08..0x77 (0x00-0x07 and 0x78-0x7F are reserved), got "${text}"`);
    } else if (a.startsWith('-')) {
      fail(`unknown option ${a}\n${USAGE}`);
    } else if (opts.name === undefined) {
      opts.name = a;
    } else {
      fail(`one name only, got "${opts.name}" and "${a}"\n${USAGE}`);
    }
  }
  if (opts.name === undefined) fail(USAGE);
  const problem = nameProblem(opts.name);
  if (problem) fail(`the name "${opts.name}" ${problem}`);
  return opts;
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const base = process.env.INIT_CWD || process.cwd();
  const dir = path.resolve(base, opts.dir ?? `${opts.name}-module`);
  if (existsSync(dir)) fail(`${dir} exists: choose another --dir (nothing was written)`, 1);
  const files = moduleFiles({ name: opts.name, address: opts.address, dir, kitDir: KIT_DIR, gatewayDir: GATEWAY_DIR });
  mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(dir, file), text, { flag: 'wx' });
  const rel = path.relative(base, dir) || '.';
  console.log(`new-module: wrote ${Object.keys(files).length} files to ${dir}
next:
  cd ${rel}
  go test ./...
  GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o ${opts.name}.wasm .
  (from ${GATEWAY_DIR}) npm start -- --config ${path.join(dir, 'gateway.json')}
(${path.join(rel, 'README.md')} says more)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
