#!/usr/bin/env node
// Builds the Go sensor modules to WebAssembly (run by `npm install` as postinstall,
// and by `npm run build:wasm`). No dependencies.
//
//   wasm-src/modules/<name>      -> build/wasm/go/<name>.wasm
//   wasm-src/testmodules/<name>  -> build/wasm/go/test/<name>.wasm
//   and, when `tinygo` is on the PATH, the same under build/wasm/tinygo/.
//
// A module is skipped when its output is newer than every .go file (and go.mod) in
// wasm-src, so repeated installs are fast; --force rebuilds everything. Two builds
// run at a time. Exits non-zero with the compiler's message when a build fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(SRC);
const OUT = join(ROOT, 'build', 'wasm');
const FORCE = process.argv.includes('--force');
const PARALLEL = 2;
const MIN_GO = [1, 24]; // //go:wasmexport

const GO_ARGS = ['build', '-buildmode=c-shared', '-trimpath', '-ldflags=-s'];
const TINYGO_ARGS = ['build', '-target=wasip1', '-buildmode=c-shared', '-scheduler=none', '-no-debug'];

function fail(msg) {
  console.error(`wasm-src/build.mjs: ${msg}`);
  process.exit(1);
}

// Environment for the compilers. A postinstall may run without HOME (some CI
// containers); Go then has no cache directory, so give it one under build/.
function compilerEnv(extra) {
  const env = { ...process.env, CGO_ENABLED: '0', ...extra };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = join(ROOT, 'build', '.gocache');
  return env;
}

function toolVersion(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: compilerEnv({}) });
  if (r.error?.code === 'ENOENT') return null;
  if (r.error) fail(`cannot run ${cmd}: ${r.error.message}`);
  return `${r.stdout}${r.stderr}`.trim();
}

function checkGo() {
  const v = toolVersion('go', ['version']);
  if (v === null) {
    fail(
      'Go is not on the PATH. The sensor modules need Go >= 1.24 (for //go:wasmexport): ' +
        'install it from https://go.dev/dl/ and run `npm run build:wasm`.',
    );
  }
  const m = /go(\d+)\.(\d+)/.exec(v);
  if (!m) fail(`cannot tell the Go version from \`go version\`: ${v}`);
  const [maj, min] = [Number(m[1]), Number(m[2])];
  if (maj < MIN_GO[0] || (maj === MIN_GO[0] && min < MIN_GO[1])) {
    fail(`${v}: the sensor modules need Go >= 1.24 (for //go:wasmexport); install it from https://go.dev/dl/.`);
  }
  return v;
}

// Newest modification time of any .go file or go.mod in wasm-src.
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

function modulesIn(sub) {
  const dir = join(SRC, sub);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'main.go')))
    .map((e) => e.name)
    .sort();
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

async function build(job, newest) {
  const rel = relative(ROOT, job.out);
  if (!FORCE && existsSync(job.out) && statSync(job.out).mtimeMs > newest) {
    console.log(`  ${job.tool.padEnd(6)} ${job.label.padEnd(28)} ${kb(statSync(job.out).size)}  up to date  ${rel}`);
    return true;
  }
  mkdirSync(dirname(job.out), { recursive: true });
  // Build to a temporary name and rename, so an interrupted build never leaves a
  // file that looks up to date.
  const tmp = `${job.out}.tmp-${process.pid}`;
  const args = [...job.args, '-o', tmp, `./${job.pkg}`];
  const started = Date.now();
  const r = await run(job.tool, args, job.env);
  if (r.code !== 0) {
    rmSync(tmp, { force: true });
    console.error(`  ${job.tool.padEnd(6)} ${job.label.padEnd(28)} FAILED`);
    console.error(`\n$ ${job.envText}${job.tool} ${args.join(' ')}\n${r.output.trim()}\n`);
    return false;
  }
  renameSync(tmp, job.out);
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`  ${job.tool.padEnd(6)} ${job.label.padEnd(28)} ${kb(statSync(job.out).size)}  built in ${secs} s  ${rel}`);
  return true;
}

async function main() {
  const goVersion = checkGo();
  const tinygoVersion = toolVersion('tinygo', ['version']);
  const mods = [
    ...modulesIn('modules').map((name) => ({ name, pkg: `modules/${name}`, sub: '' })),
    ...modulesIn('testmodules').map((name) => ({ name, pkg: `testmodules/${name}`, sub: 'test' })),
  ];
  if (mods.length === 0) fail('no modules found under wasm-src/modules or wasm-src/testmodules');

  const jobs = [];
  const goEnv = compilerEnv({ GOOS: 'wasip1', GOARCH: 'wasm' });
  for (const m of mods) {
    jobs.push({
      tool: 'go',
      label: m.pkg,
      pkg: m.pkg,
      args: GO_ARGS,
      env: goEnv,
      envText: 'GOOS=wasip1 GOARCH=wasm ',
      out: join(OUT, 'go', m.sub, `${m.name}.wasm`),
    });
  }
  if (tinygoVersion !== null) {
    for (const m of mods) {
      jobs.push({
        tool: 'tinygo',
        label: m.pkg,
        pkg: m.pkg,
        args: TINYGO_ARGS,
        env: compilerEnv({}),
        envText: '',
        out: join(OUT, 'tinygo', m.sub, `${m.name}.wasm`),
      });
    }
  }

  console.log(`wasm-src/build.mjs: ${goVersion}${FORCE ? ' (--force)' : ''}`);
  if (tinygoVersion === null) {
    console.log('wasm-src/build.mjs: tinygo is not on the PATH: TinyGo builds skipped (standard Go builds only)');
  } else {
    console.log(`wasm-src/build.mjs: ${tinygoVersion}`);
  }

  const newest = newestSource();
  let next = 0;
  let ok = true;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      if (!(await build(job, newest))) ok = false;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, worker));
  if (!ok) fail('a module failed to build (compiler output above)');
}

main().catch((err) => fail(err?.stack ?? String(err)));
