#!/usr/bin/env node
// Builds the Go sources in wasm-src/ to WebAssembly. No dependencies; Node >= 18 runs it.
//
//   node wasm-src/build.mjs --modules   wasm-src/modules/<name>     -> modules/<name>.wasm (shipped)
//   node wasm-src/build.mjs --check     the same build into a temporary directory; exit 1 unless
//                                       every shipped module is byte for byte what its source gives
//   node wasm-src/build.mjs --test      wasm-src/testmodules/<name> -> build/wasm/go/test/<name>.wasm
//
// The production modules are shipped in the repository (modules/), because `.wasm` does not
// depend on the CPU and a Raspberry Pi's Debian has no Go new enough for //go:wasmexport
// (bookworm: 1.19). Installing the gateway therefore needs no Go; changing a module does.
//
// Reproducible: a Go build with -trimpath, -buildvcs=false and CGO off depends only on the
// sources and the toolchain's version, so modules/manifest.json pins the toolchain and every
// --modules or --check build runs with GOTOOLCHAIN=<that version>: any Go >= 1.21 on the PATH
// fetches the pinned toolchain from the Go module proxy if it is not that version itself
// (https://go.dev/doc/toolchain). `--toolchain goX.Y.Z` moves the pin (with --modules), and
// `--toolchain local` builds with the Go on the PATH as it is (a build for trying a change; the
// manifest then records that version).
//
// Test modules are built for the tests only (npm test runs --test); without Go on the PATH
// --test says so and exits 0, and the tests that need them are skipped, unless GW_GO_REQUIRED=1
// (CI), which makes a missing Go an error. When `tinygo` is on the PATH, --test also builds
// every module with TinyGo into build/wasm/tinygo/ (not shipped: TinyGo is measured, not used).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(SRC);
const SHIPPED = join(ROOT, 'modules');
const MANIFEST = join(SHIPPED, 'manifest.json');
const TEST_OUT = join(ROOT, 'build', 'wasm');
const PARALLEL = 2;
const MIN_GO = [1, 24]; // //go:wasmexport
const MIN_GO_SWITCH = [1, 21]; // GOTOOLCHAIN

const GO_ARGS = ['build', '-buildmode=c-shared', '-trimpath', '-buildvcs=false', '-ldflags=-s'];
const TINYGO_ARGS = ['build', '-target=wasip1', '-buildmode=c-shared', '-scheduler=none', '-no-debug'];

function fail(msg, status = 1) {
  console.error(`wasm-src/build.mjs: ${msg}`);
  process.exit(status);
}

function parseArgs(argv) {
  const opts = { mode: undefined, toolchain: undefined, force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--modules' || a === '--check' || a === '--test') {
      if (opts.mode && opts.mode !== a.slice(2)) fail('give one of --modules, --check, --test', 2);
      opts.mode = a.slice(2);
    } else if (a === '--toolchain') {
      opts.toolchain = argv[++i];
      if (!opts.toolchain || !/^(local|go\d+\.\d+(\.\d+)?)$/.test(opts.toolchain)) fail('--toolchain takes goX.Y.Z or local', 2);
    } else if (a === '--force') {
      opts.force = true;
    } else {
      fail(`unknown argument ${a}\nusage: node wasm-src/build.mjs --modules [--toolchain goX.Y.Z|local] | --check | --test [--force]`, 2);
    }
  }
  opts.mode ??= 'modules';
  if (opts.toolchain && opts.mode !== 'modules') fail('--toolchain goes with --modules', 2);
  return opts;
}

// Environment for the compilers. An install may run without HOME (some CI containers); Go then
// has no cache directory, so give it one under build/.
function compilerEnv(extra) {
  // The caller's Go settings could change what is built: a go.work elsewhere, GOFLAGS (-tags),
  // GOWASM and GOEXPERIMENT (other instructions), and the same kept by `go env -w`, which an
  // empty variable falls back to. GOENV=off ignores that file. The build depends on the tree
  // and the toolchain only.
  const env = { ...process.env, CGO_ENABLED: '0', GOWORK: 'off', GOFLAGS: '', GOENV: 'off', ...extra };
  delete env.GOWASM;
  delete env.GOEXPERIMENT;
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(ROOT, 'build', '.gocache');
  if (!env.GOMODCACHE && !env.GOPATH && !env.HOME) env.GOMODCACHE = join(ROOT, 'build', '.gomodcache');
  return env;
}

function toolVersion(cmd, args, env = compilerEnv({})) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env });
  if (r.error?.code === 'ENOENT') return null;
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`\`${cmd} ${args.join(' ')}\` failed:\n${`${r.stdout}${r.stderr}`.trim()}`);
  return `${r.stdout}${r.stderr}`.trim();
}

function goVersionOf(text) {
  const m = /go(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? { name: m[0], major: Number(m[1]), minor: Number(m[2]) } : null;
}

const atLeast = (v, [maj, min]) => v.major > maj || (v.major === maj && v.minor >= min);

const WHERE_GO =
  'Go is needed only to change or add a module. Debian trixie (Raspberry Pi OS since late 2025): `sudo apt install golang-go` (1.24); ' +
  'bookworm: golang-go is 1.19, too old: use bookworm-backports `golang-1.23-go` (it can fetch the pinned toolchain, GOTOOLCHAIN) or https://go.dev/dl/.';

/** The `go` on the PATH, checked; with `pinned`, it must be able to switch to that toolchain. */
function checkGo(pinned) {
  const text = toolVersion('go', ['version'], compilerEnv({ GOTOOLCHAIN: 'local' }));
  if (text === null) return null;
  const v = goVersionOf(text);
  if (!v) fail(`cannot tell the Go version from \`go version\`: ${text}`);
  if (pinned && !atLeast(v, MIN_GO_SWITCH)) fail(`${text}: cannot switch to the pinned ${pinned} (needs Go >= 1.21). ${WHERE_GO}`);
  if (!pinned && !atLeast(v, MIN_GO)) fail(`${text}: the modules need Go >= 1.24 (//go:wasmexport). ${WHERE_GO}`);
  return v;
}

function readManifest() {
  if (!existsSync(MANIFEST)) return { toolchain: undefined, modules: {} };
  try {
    return JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch (err) {
    fail(`${relative(ROOT, MANIFEST)} is not valid JSON: ${err.message}`);
  }
}

function modulesIn(sub) {
  const dir = join(SRC, sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'main.go')))
    .map((e) => e.name)
    .sort();
}

// Newest modification time of any .go file or go.mod in wasm-src (up-to-date check of --test).
function newestSource(dir = SRC) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'testdata' && !e.name.startsWith('.')) newest = Math.max(newest, newestSource(p));
    } else if (e.name.endsWith('.go') || e.name === 'go.mod') {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: SRC, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => resolve({ code: -1, output: `${output}${err.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

const kb = (n) => `${(n / 1024).toFixed(0).padStart(5)} KiB`;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Compiles one job to job.out (through a temporary name, so an interrupted build leaves nothing). */
async function compile(job) {
  mkdirSync(dirname(job.out), { recursive: true });
  const tmp = `${job.out}.tmp-${process.pid}`;
  const args = [...job.args, '-o', tmp, `./${job.pkg}`];
  const started = Date.now();
  const r = await run(job.tool, args, job.env);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    console.error(`  ${job.tool.padEnd(6)} ${job.pkg.padEnd(28)} FAILED`);
    console.error(`\n$ ${job.envText}${job.tool} ${args.join(' ')}\n${r.output.trim()}\n`);
    return false;
  }
  renameSync(tmp, job.out);
  job.seconds = (Date.now() - started) / 1000;
  return true;
}

async function runAll(jobs, each) {
  let next = 0;
  let ok = true;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (!(await each(job))) ok = false;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, worker));
  return ok;
}

function goJob(pkg, out, toolchain) {
  const env = compilerEnv({ GOOS: 'wasip1', GOARCH: 'wasm', GOTOOLCHAIN: toolchain });
  return { tool: 'go', pkg, args: GO_ARGS, env, envText: `GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 GOTOOLCHAIN=${toolchain} `, out };
}

/** The toolchain a pinned build actually ran (GOTOOLCHAIN may have fetched it). */
function resolvedToolchain(toolchain) {
  const text = toolVersion('go', ['version'], compilerEnv({ GOTOOLCHAIN: toolchain }));
  return goVersionOf(text ?? '')?.name;
}

async function buildModules(opts) {
  const manifest = readManifest();
  const local = checkGo(opts.toolchain === 'local' ? undefined : 'pin');
  if (!local) fail(`Go is not on the PATH. ${WHERE_GO}`);
  const toolchain = opts.toolchain ?? manifest.toolchain ?? local.name;
  const names = modulesIn('modules');
  if (names.length === 0) fail('no modules under wasm-src/modules');
  const staging = mkdtempSync(join(tmpdir(), 'gw-modules-'));
  try {
    const jobs = names.map((name) => goJob(`modules/${name}`, join(staging, `${name}.wasm`), toolchain));
    console.log(`wasm-src/build.mjs: production modules with GOTOOLCHAIN=${toolchain} (the Go on the PATH: ${local.name})`);
    if (!(await runAll(jobs, compile))) fail('a module failed to build (compiler output above)');
    const used = toolchain === 'local' ? local.name : resolvedToolchain(toolchain);
    mkdirSync(SHIPPED, { recursive: true });
    const entries = {};
    for (const [i, name] of names.entries()) {
      const bytes = readFileSync(jobs[i].out);
      const target = join(SHIPPED, `${name}.wasm`);
      const changed = !existsSync(target) || !readFileSync(target).equals(bytes);
      // Written only when different, so an unchanged module keeps its file (and mtime: the
      // gateway's watcher does not reload it).
      if (changed) writeFileSync(target, bytes);
      entries[`${name}.wasm`] = { source: `wasm-src/modules/${name}`, bytes: bytes.length, sha256: sha256(bytes) };
      console.log(`  go     modules/${name.padEnd(21)} ${kb(bytes.length)}  ${changed ? 'written' : 'unchanged'}  sha256 ${sha256(bytes)}`);
    }
    const next = { toolchain: used, buildFlags: GO_ARGS.slice(1).join(' '), modules: entries };
    writeFileSync(MANIFEST, `${JSON.stringify(next, null, 2)}\n`);
    console.log(`wasm-src/build.mjs: ${relative(ROOT, MANIFEST)} records ${used}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

async function checkModules() {
  const manifest = readManifest();
  if (!manifest.toolchain) fail(`${relative(ROOT, MANIFEST)} is missing or names no toolchain: run node wasm-src/build.mjs --modules`);
  if (!checkGo('pin')) fail(`Go is not on the PATH: the reproducibility check rebuilds the modules. ${WHERE_GO}`);
  const names = modulesIn('modules');
  const staging = mkdtempSync(join(tmpdir(), 'gw-check-'));
  let ok = true;
  try {
    const jobs = names.map((name) => goJob(`modules/${name}`, join(staging, `${name}.wasm`), manifest.toolchain));
    console.log(`wasm-src/build.mjs --check: rebuilding ${names.length} module(s) from source with GOTOOLCHAIN=${manifest.toolchain}`);
    if (!(await runAll(jobs, compile))) fail('a module failed to build (compiler output above)');
    for (const [i, name] of names.entries()) {
      const file = `${name}.wasm`;
      const rebuilt = readFileSync(jobs[i].out);
      const shippedPath = join(SHIPPED, file);
      const shipped = existsSync(shippedPath) ? readFileSync(shippedPath) : undefined;
      const recorded = manifest.modules?.[file]?.sha256;
      if (shipped && shipped.equals(rebuilt) && recorded === sha256(rebuilt)) {
        console.log(`  identical  modules/${file}  ${rebuilt.length} bytes  sha256 ${sha256(rebuilt)}`);
        continue;
      }
      ok = false;
      const why = !shipped
        ? 'not shipped'
        : !shipped.equals(rebuilt)
          ? `differs: shipped sha256 ${sha256(shipped)} (${shipped.length} bytes), rebuilt ${sha256(rebuilt)} (${rebuilt.length} bytes)`
          : `the manifest records sha256 ${recorded}, the file is ${sha256(rebuilt)}`;
      console.error(`  MISMATCH   modules/${file}: ${why}`);
    }
    for (const file of readdirSync(SHIPPED).filter((f) => f.endsWith('.wasm'))) {
      if (!names.includes(file.slice(0, -5))) {
        ok = false;
        console.error(`  MISMATCH   modules/${file}: no source under wasm-src/modules`);
      }
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!ok) fail('the shipped modules are not what their sources build: run `node wasm-src/build.mjs --modules` and commit modules/');
  console.log('wasm-src/build.mjs --check: every shipped module is reproduced byte for byte from its source');
}

async function buildTestModules(opts) {
  const required = process.env.GW_GO_REQUIRED === '1';
  const text = toolVersion('go', ['version'], compilerEnv({ GOTOOLCHAIN: 'local' }));
  const local = text === null ? null : goVersionOf(text);
  // A Go that can switch toolchains (>= 1.21) builds with the pinned one when it is itself too
  // old for //go:wasmexport (bookworm-backports' 1.23); an older Go is as good as none.
  const usable = local !== null && atLeast(local, MIN_GO_SWITCH);
  if (!usable) {
    const why = local === null ? 'Go is not on the PATH' : `${local.name} is too old (needs >= 1.21)`;
    if (required) fail(`${why} and GW_GO_REQUIRED=1. ${WHERE_GO}`);
    console.log(`wasm-src/build.mjs --test: ${why}: test modules not built; the tests that need them are skipped`);
    return;
  }
  const toolchain = atLeast(local, MIN_GO) ? 'local' : readManifest().toolchain;
  if (!toolchain) fail(`${local.name} needs the toolchain pinned in ${relative(ROOT, MANIFEST)}, which names none`);
  const go = toolchain === 'local' ? local : goVersionOf(toolchain);
  const tinygo = toolVersion('tinygo', ['version']);
  const newest = newestSource();
  const jobs = modulesIn('testmodules').map((name) => goJob(`testmodules/${name}`, join(TEST_OUT, 'go', 'test', `${name}.wasm`), toolchain));
  if (tinygo !== null) {
    for (const [sub, outSub] of [['modules', ''], ['testmodules', 'test']]) {
      for (const name of modulesIn(sub)) {
        jobs.push({ tool: 'tinygo', pkg: `${sub}/${name}`, args: TINYGO_ARGS, env: compilerEnv({}), envText: '', out: join(TEST_OUT, 'tinygo', outSub, `${name}.wasm`) });
      }
    }
  }
  console.log(`wasm-src/build.mjs --test: ${go.name}; ${tinygo ?? 'tinygo is not on the PATH: TinyGo builds skipped'}`);
  const ok = await runAll(jobs, async (job) => {
    const rel = relative(ROOT, job.out);
    if (!opts.force && existsSync(job.out) && statSync(job.out).mtimeMs > newest) {
      console.log(`  ${job.tool.padEnd(6)} ${job.pkg.padEnd(28)} ${kb(statSync(job.out).size)}  up to date  ${rel}`);
      return true;
    }
    if (!(await compile(job))) return false;
    console.log(`  ${job.tool.padEnd(6)} ${job.pkg.padEnd(28)} ${kb(statSync(job.out).size)}  built in ${job.seconds.toFixed(1)} s  ${rel}`);
    return true;
  });
  if (!ok) fail('a module failed to build (compiler output above)');
}

const opts = parseArgs(process.argv.slice(2));
const main = { modules: buildModules, check: checkModules, test: buildTestModules }[opts.mode];
main(opts).catch((err) => fail(err?.stack ?? String(err)));
