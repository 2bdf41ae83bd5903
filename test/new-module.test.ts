/**
 * `npm run new-module` (wasm-src/new-module.mjs): the skeleton it writes builds for
 * GOOS=wasip1 and its own tests pass with no edit, offline (GOPROXY=off: the kit comes from
 * this checkout through go.mod's `replace`); the built .wasm loads in the gateway's real WASM
 * host and reads the simulated TMP102 on a simulated bus through the real I2C imports; the
 * gateway configuration it writes passes the gateway's own validation. And the kit's version,
 * module path and the Go declarations in docs/module-abi.md agree with the sources.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../drivers/clock.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { constantProfile } from '../drivers/sim/temperature-profile.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { SensorModule } from '../gateway/host/sensor-module.ts';
import { loadConfigFile } from '../gateway/service/config.ts';
import { register12 } from './helpers/datasheet.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCAFFOLD = path.join(ROOT, 'wasm-src', 'new-module.mjs');
const hasGo = spawnSync('go', ['version']).status === 0;
const SKIP_GO = hasGo || process.env['GW_GO_REQUIRED'] === '1' ? undefined : 'needs Go on the PATH to build the generated module';

/** Runs the scaffold; INIT_CWD (set by npm to where it was started) only when given. */
function scaffold(args: string[], cwd: string, initCwd?: string): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['INIT_CWD'];
  if (initCwd !== undefined) env['INIT_CWD'] = initCwd;
  return spawnSync(process.execPath, [SCAFFOLD, ...args], { cwd, env, encoding: 'utf8' });
}

/** Go, offline: GOPROXY=off proves the kit comes from the checkout, not the network. */
function go(args: string[], cwd: string, extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  const env = { ...process.env, GOPROXY: 'off', GOFLAGS: '-buildvcs=false', GOWORK: 'off', CGO_ENABLED: '0', ...extra };
  return spawnSync('go', args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
}

describe('npm run new-module: arguments', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(tmpdir(), 'gw-newmod-args-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('refuses names that are not lower-case Go package names, and writes nothing', () => {
    for (const name of ['Sht31', '9lives', 'my-chip', 'func', 'a'.repeat(33), 'sht.31']) {
      const r = scaffold([name], tmp);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, /new-module: the name/);
    }
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('refuses reserved or malformed I2C addresses', () => {
    for (const address of ['0x07', '0x78', '0x80', '300', 'x48', '']) {
      const r = scaffold(['chip', '--address', address], tmp);
      assert.equal(r.status, 2, `${address}: ${r.stderr}`);
    }
    assert.deepEqual(readdirSync(tmp), []);
  });

  it('writes ./<name>-module under the directory npm was started from, and never into an existing one', () => {
    const started = path.join(tmp, 'here');
    mkdirSync(started);
    const r = scaffold(['probe', '--address', '0x40'], ROOT, started);
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(started, 'probe-module');
    assert.ok(existsSync(path.join(dir, 'go.mod')));
    assert.match(readFileSync(path.join(dir, 'module_test.go'), 'utf8'), /const testAddress = 0x40/);
    const config = JSON.parse(readFileSync(path.join(dir, 'gateway.json'), 'utf8'));
    assert.equal(config.sensors[0].address, '0x40');

    writeFileSync(path.join(dir, 'driver.go'), 'mine\n');
    const again = scaffold(['probe'], ROOT, started);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /exists/);
    assert.equal(readFileSync(path.join(dir, 'driver.go'), 'utf8'), 'mine\n');
  });
});

describe('npm run new-module: the generated module', { skip: SKIP_GO }, () => {
  let tmp: string;
  let dir: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'gw-newmod-'));
    dir = path.join(tmp, 'demo-module');
    const r = scaffold(['demo'], tmp);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('passes its own tests as generated, offline', () => {
    const r = go(['test', './...'], dir);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok\s+example\.com\/demo\b/m);
  });

  it('builds to a .wasm that the gateway loads and that reads the simulated chip through the host', async () => {
    const build = go(['build', '-buildmode=c-shared', '-trimpath', '-o', 'demo.wasm', '.'], dir, { GOOS: 'wasip1', GOARCH: 'wasm' });
    assert.equal(build.status, 0, build.stdout + build.stderr);

    // The configuration it wrote, through the gateway's own validation.
    const config = await loadConfigFile(path.join(dir, 'gateway.json'));
    const entry = config.sensors[0]!;
    assert.equal(entry.module, path.join(dir, 'demo.wasm'));
    assert.deepEqual([entry.name, entry.path, entry.bus, entry.address], ['demo', '/demo', 1, 0x48]);

    const clock = new ManualClock();
    const logger = new MemoryLogger();
    // -25 °C, a row of the datasheet's 12-bit table: count 0xE70, left-justified in the register.
    const { bus } = createSimulatedTmp102Bus({ clock, profile: constantProfile(-25) });
    const sensor = await SensorModule.fromFile(entry.module, {
      name: entry.name, capabilities: { i2c: entry.grant }, bus, clock, logger,
      init: { bus: entry.bus, address: entry.address, settings: entry.settings },
    });
    assert.deepEqual(sensor.start(), { name: 'demo', version: '0.1.0', quantity: 'temperature', unit: 'Cel', periodMs: 1000, resolution: 0.0625, quantities: [{ name: 'temperature', unit: 'Cel', resolution: 0.0625 }] });
    clock.advanceMs(300); // past the chip's first conversion (at most 35 ms: SBOS397 Electrical Characteristics)
    const reading = sensor.read();
    assert.equal(reading.value, -25);
    assert.equal(reading.raw, register12(0xe70));
    assert.equal(reading.bits, 12);
    assert.equal(reading.unit, 'Cel');
  });
});

describe('the module kit agrees with its documentation', () => {
  const kit = (file: string) => readFileSync(path.join(ROOT, 'wasm-src', file), 'utf8');
  const abiDoc = readFileSync(path.join(ROOT, 'docs', 'module-abi.md'), 'utf8');

  it('gwabi.Version: major = the ABI version of docs/module-abi.md; the scaffold requires that version of that module path', async () => {
    const version = /const Version = "(\d+)\.(\d+)\.(\d+)"/.exec(kit('gwabi/version.go'));
    assert.ok(version, 'const Version in gwabi/version.go');
    assert.equal(version[1], /^Version: \*\*(\d+)\*\*/m.exec(abiDoc)?.[1]);
    const { KIT_PATH, KIT_VERSION } = await import('../wasm-src/new-module-files.mjs');
    assert.equal(KIT_VERSION, `v${version[1]}.${version[2]}.${version[3]}`);
    assert.equal(/^module (\S+)$/m.exec(kit('go.mod'))?.[1], KIT_PATH);
    assert.match(KIT_PATH, /^[a-z0-9-]+\.[a-z0-9.-]+\//, 'a module path whose first element has a dot');
  });

  it('docs/module-abi.md, "Go declarations", carries every gw import and every export as in the sources', () => {
    const section = abiDoc.slice(abiDoc.indexOf('## Go declarations'));
    assert.ok(abiDoc.includes('## Go declarations'));
    const decls = (text: string, directive: string) =>
      [...text.matchAll(new RegExp(`^//go:${directive} .*\\n(?://go:noescape\\n)?func .*$`, 'gm'))].map((m) => m[0]);
    const imports = decls(kit('gwabi/imports_wasip1.go'), 'wasmimport');
    const exports = decls(kit('modules/tmp102/main.go'), 'wasmexport');
    assert.equal(imports.length, 7);
    assert.equal(exports.length, 3);
    for (const d of [...imports, ...exports]) assert.ok(section.includes(d), `missing from the doc:\n${d}`);
  });
});
