/**
 * The launcher (gateway/cli/launch.mjs) and the install-time build (gateway/cli/build-bundles.mjs):
 * the Node version first, bundles checked against their sources, and a gateway that runs from
 * a tree it cannot write, writing nothing into it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUNDLE_ENTRIES, COMMANDS } from '../gateway/bundle-manifest.mjs';
import { REQUIRED_NODE_MAJOR, nodeVersionProblem } from '../gateway/node-version.mjs';
import { getTemp, spawnGatewayProcess } from './helpers/gateway-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('launcher: the Node version comes first', () => {
  it('refuses Node 18 with a coded line naming the version found and the one needed', () => {
    const message = nodeVersionProblem('18.20.4');
    assert.match(message ?? '', /^error GW_ERR_NODE_VERSION: /);
    assert.match(message ?? '', /18\.20\.4/);
    assert.match(message ?? '', />= 20/);
    assert.equal(nodeVersionProblem('20.19.2'), undefined);
    assert.equal(nodeVersionProblem('22.0.0'), undefined);
  });

  it('needs the Node package.json asks for, and npm refuses to install on an older one', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, `>=${REQUIRED_NODE_MAJOR}`);
    assert.match(readFileSync(path.join(ROOT, '.npmrc'), 'utf8'), /^engine-strict=true$/m);
  });

  it('answers an unknown command with its usage, exit 2', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'gateway/cli/launch.mjs'), 'gateway/cli/start.ts'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: node gateway\/cli\/launch\.mjs <start\|read\|doctor\|client\|sim>/);
  });

  it('bundles every command and every worker entry the gateway spawns', () => {
    for (const command of COMMANDS) assert.ok(BUNDLE_ENTRIES[command], command);
    for (const entry of Object.values(BUNDLE_ENTRIES)) assert.ok(existsSync(path.join(ROOT, entry)), entry);
    // Every `spawnWorker(new URL('./x.ts', ...))` in the gateway names an entry that is bundled.
    const spawned: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts')) {
          const src = readFileSync(p, 'utf8');
          for (const m of src.matchAll(/new URL\('(\.\/[\w-]+\.ts)', import\.meta\.url\)/g)) {
            if (/spawnWorker|ENTRY/.test(src)) spawned.push(path.relative(ROOT, path.resolve(path.dirname(p), m[1]!)));
          }
        }
      }
    };
    walk(path.join(ROOT, 'gateway'));
    assert.ok(spawned.length >= 2, `found the worker entries: ${spawned.join(', ')}`);
    for (const entry of spawned) assert.ok(Object.values(BUNDLE_ENTRIES).includes(entry), `${entry} is bundled`);
  });
});

/** A copy of what an installed gateway needs, built in place as `npm ci` builds it. */
function installedCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-tree-'));
  chmodSync(dir, 0o755);
  for (const part of ['package.json', '.npmrc', 'gateway', 'drivers', 'modules', 'node_modules']) {
    cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true, verbatimSymlinks: true });
  }
  execFileSync(process.execPath, [path.join(dir, 'gateway/cli/build-bundles.mjs')], { cwd: dir, stdio: 'pipe' });
  return dir;
}

/** Every file under `dir` with its size and modification time: what "wrote nothing" compares. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const s = statSync(p, { bigint: true });
        files.set(path.relative(dir, p), `${s.size}:${s.mtimeNs}`);
      }
    }
  };
  walk(dir);
  return files;
}

describe('launcher: bundles made at install, checked at start', () => {
  let tree: string;
  before(() => {
    tree = installedCopy();
  });
  after(() => rmSync(tree, { recursive: true, force: true }));

  it('runs the read command from its bundle', () => {
    const r = spawnSync(process.execPath, [path.join(tree, 'gateway/cli/launch.mjs'), 'read', '--driver', 'simulated', '--json'], { encoding: 'utf8', cwd: tree });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).value, 21.5);
  });

  it('refuses bundles older than a source file (GW_ERR_BUILD_STALE), and a missing build (GW_ERR_BUILD_MISSING)', () => {
    const source = path.join(tree, 'drivers/board.ts');
    const original = readFileSync(source, 'utf8');
    writeFileSync(source, `${original}\n// edited after the build\n`);
    try {
      const r = spawnSync(process.execPath, [path.join(tree, 'gateway/cli/launch.mjs'), 'read', '--driver', 'simulated'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^error GW_ERR_BUILD_STALE: .*drivers\/board\.ts.*npm run build/);
      assert.equal(r.stdout, '', 'nothing ran');
    } finally {
      writeFileSync(source, original);
    }
    const manifest = path.join(tree, 'build/bundles/manifest.json');
    const kept = readFileSync(manifest);
    unlinkSync(manifest);
    try {
      const r = spawnSync(process.execPath, [path.join(tree, 'gateway/cli/launch.mjs'), 'start', '--port', '0'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^error GW_ERR_BUILD_MISSING: /);
    } finally {
      writeFileSync(manifest, kept);
    }
  });

  it('refuses a bundle that does not match its content, and names a missing npm package in one coded line', () => {
    const manifest = JSON.parse(readFileSync(path.join(tree, 'build/bundles/manifest.json'), 'utf8')) as { bundles: Record<string, string> };
    const bundle = path.join(tree, 'build/bundles', manifest.bundles['read']!);
    const kept = readFileSync(bundle);
    writeFileSync(bundle, kept.subarray(0, kept.length >> 1));
    try {
      const r = spawnSync(process.execPath, [path.join(tree, 'gateway/cli/launch.mjs'), 'read', '--driver', 'simulated'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^error GW_ERR_BUILD_MISSING: build\/bundles\/read\.[0-9a-f]{12}\.mjs does not match its content/);
    } finally {
      writeFileSync(bundle, kept);
    }
    const pkg = path.join(tree, 'node_modules/cbor-x');
    renameSync(pkg, `${pkg}.away`);
    try {
      const r = spawnSync(process.execPath, [path.join(tree, 'gateway/cli/launch.mjs'), 'read', '--driver', 'simulated'], { encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.equal(r.stderr, 'error GW_ERR_BUILD_MISSING: the package cbor-x is not installed: run `npm ci` in the project\n');
    } finally {
      renameSync(`${pkg}.away`, pkg);
    }
  });

  it('serves GET /temp from a tree it cannot write, and writes nothing into it', async (t) => {
    const before = snapshot(tree);
    // As the service runs: another user than the tree's owner. Root can write anywhere, so a
    // test running as root starts the gateway as nobody; otherwise the tree is made read-only.
    const asRoot = process.getuid?.() === 0;
    const setpriv = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] : [];
    if (!asRoot) spawnSync('chmod', ['-R', 'a-w', tree]);
    const startScript = (JSON.parse(readFileSync(path.join(tree, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    const nodeFlags = startScript.split(' ').filter((a) => a.startsWith('--'));
    const argv = [...setpriv, process.execPath, ...nodeFlags, path.join(tree, 'gateway/cli/launch.mjs'), 'start', '--host', '127.0.0.1', '--port', '0'];
    const p = spawnGatewayProcess(argv, { cwd: '/', env: { ...process.env, HOME: '/nonexistent' } });
    const { child } = p;
    const out = () => p.out() + p.err();
    try {
      await p.waitFor(/listening on udp 127\.0\.0\.1:\d+[^]*SIMULATED/);
      const res = await getTemp(p.port());
      assert.equal(res?.code, '2.05');
      assert.equal((res.cbor as { value: number }).value, 21.5);
      const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
      t.diagnostic(`RSS after start-up and one GET: ${(rssKb / 1024).toFixed(1)} MB (a measurement, not asserted; the README reports it)`);
    } finally {
      child.kill('SIGTERM');
      await p.exited;
      if (!asRoot) spawnSync('chmod', ['-R', 'u+w', tree]);
    }
    assert.equal(child.exitCode, 0, out());
    assert.doesNotMatch(out(), /EACCES|EROFS|tsx/);
    assert.deepEqual(snapshot(tree), before, 'no file in the tree was added, removed or changed');
  });
});
