/**
 * The systemd service (deploy/, docs/service.md): the install script staged under a temporary
 * root (--root, which writes only there: no user, no systemctl), what it wrote, the installed
 * unit checked by `systemd-analyze verify` (and shown to catch a broken unit) and rated by
 * `systemd-analyze security --offline`, and the installed tree run with the unit's own ExecStart.
 *
 * systemd is not PID 1 on the machines these run on: the unit is checked statically, never
 * started. Without systemd-analyze those tests skip, or fail where GW_SYSTEMD_REQUIRED=1 (CI).
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BUNDLE_ENTRIES } from '../gateway/bundle-manifest.mjs';
import { REQUIRED_NODE_MAJOR } from '../gateway/node-version.mjs';
import { parseConfig } from '../gateway/service/config.ts';
import { getTemp, spawnGatewayProcess } from './helpers/gateway-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'deploy/install-service.sh');
const PREFIX = '/opt/coap-sensor-gateway';
const UNIT = 'etc/systemd/system/coap-sensor-gateway.service';
const CONFIG = 'etc/coap-sensor-gateway/gateway.json';
const UDEV_RULE = 'etc/udev/rules.d/70-coap-sensor-gateway-i2c.rules';

const analyzeFound = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const analyzeRequired = process.env['GW_SYSTEMD_REQUIRED'] === '1';
const analyzeSkip =
  !analyzeFound && !analyzeRequired ? 'systemd-analyze not found (Debian: apt-get install systemd); GW_SYSTEMD_REQUIRED=1 makes this a failure' : false;

function analyze(args: string[]): SpawnSyncReturns<string> {
  if (!analyzeFound) assert.fail('systemd-analyze not found, and GW_SYSTEMD_REQUIRED=1: install it (Debian: apt-get install systemd)');
  // cwd: verify also loads the units in the directories of the files it is given, and the cwd.
  return spawnSync('systemd-analyze', args, { encoding: 'utf8', cwd: '/' });
}

/** `systemd-analyze verify` exits 0 on warnings unless told otherwise (systemd-analyze(1)). */
const verify = (unitFile: string) => analyze(['verify', '--man=no', '--recursive-errors=no', unitFile]);

function install(args: string[], script = SCRIPT): SpawnSyncReturns<string> {
  return spawnSync('bash', [script, ...args], { encoding: 'utf8' });
}

/** The unit's directives, comments and blank lines left out. */
const directives = (unit: string) => unit.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
const directive = (unit: string, key: string) => directives(unit).filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f));
}

const defaultNode = spawnSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).stdout.trim();

describe('install-service.sh --root: a staged installation of this checkout', () => {
  let stage: string;
  let run: SpawnSyncReturns<string>;
  before(() => {
    stage = mkdtempSync(path.join(tmpdir(), 'gw-stage-'));
    run = install(['--root', stage, '--no-start']);
  });
  after(() => rmSync(stage, { recursive: true, force: true }));

  it('installs without error and prints how to follow the logs and check the wiring', () => {
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /journalctl -u coap-sensor-gateway -f/);
    assert.match(run.stdout, new RegExp(`sudo -u coapgw \\S+ ${PREFIX}/gateway/cli/launch\\.mjs doctor --config /${CONFIG}`));
  });

  it('fills in the unit: node found on the PATH, the prefix, the configuration, the I2C adapter', () => {
    const unit = readFileSync(path.join(stage, UNIT), 'utf8');
    for (const line of directives(unit)) assert.doesNotMatch(line, /@[A-Z0-9_]+@/, 'no placeholder left');
    const [execStart] = directive(unit, 'ExecStart');
    assert.equal(
      execStart,
      `${defaultNode} --max-semi-space-size=2 --heap-growing-percent=50 ${PREFIX}/gateway/cli/launch.mjs start --config /${CONFIG} $GATEWAY_OPTIONS`,
    );
    assert.ok(path.isAbsolute(defaultNode));
    assert.deepEqual(directive(unit, 'Wants'), ['modprobe@i2c_dev.service dev-i2c\\x2d1.device']);
    assert.ok(directive(unit, 'After').includes('modprobe@i2c_dev.service dev-i2c\\x2d1.device'));
    assert.deepEqual(directive(unit, 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual([directive(unit, 'User'), directive(unit, 'SupplementaryGroups')], [['coapgw'], ['i2c gpio']]);
    assert.match(readFileSync(path.join(stage, UDEV_RULE), 'utf8'), /^SUBSYSTEM=="i2c-dev", KERNEL=="i2c-\[0-9\]\*", TAG\+="systemd"$/m);
  });

  it('keeps the hardening that would break Node or the ALERT GPIO out of the unit', () => {
    const unit = readFileSync(path.join(stage, UNIT), 'utf8');
    // V8 makes its JIT and WebAssembly code executable with mprotect: forbidden by this option.
    assert.deepEqual(directive(unit, 'MemoryDenyWriteExecute'), []);
    // onoff writes /sys/class/gpio/export and gpioN/*: all of /sys read-only would stop that.
    assert.deepEqual(directive(unit, 'ProtectKernelTunables'), []);
    // Its private /dev has no /dev/i2c-N.
    assert.deepEqual(directive(unit, 'PrivateDevices'), []);
    assert.deepEqual(directive(unit, 'DeviceAllow'), ['char-i2c rw']);
  });

  it('writes a default configuration the gateway accepts: one TMP102 on bus 1 at 0x48, the installed module', () => {
    const file = path.join(stage, CONFIG);
    const config = parseConfig(JSON.parse(readFileSync(file, 'utf8')), path.dirname(file));
    assert.equal(config.driver, 'auto');
    assert.deepEqual(
      config.sensors.map((s) => [s.name, s.path, s.bus, s.address, s.module]),
      [['tmp102', '/temp', 1, 0x48, `${PREFIX}/modules/tmp102.wasm`]],
    );
  });

  it('copies what the gateway runs and leaves out the development files', () => {
    const dest = path.join(stage, PREFIX);
    const required = ['gateway/cli/launch.mjs', 'build/bundles/manifest.json', 'node_modules/i2c-bus/package.json', 'package.json'];
    if (existsSync(path.join(ROOT, 'modules/tmp102.wasm'))) required.push('modules/tmp102.wasm');
    for (const f of required) {
      assert.ok(existsSync(path.join(dest, f)), `${f} installed`);
      assert.deepEqual(readFileSync(path.join(dest, f)), readFileSync(path.join(ROOT, f)), `${f} unchanged`);
    }
    for (const f of ['.git', 'test', 'bench', 'wasm-src', 'build/wasm', '.ci']) assert.ok(!existsSync(path.join(dest, f)), `${f} left out`);
    // Packages only devDependencies need, as package-lock.json records them.
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([p, meta]) => p && meta.dev === true).map(([p]) => p);
    assert.ok(devOnly.includes('node_modules/typescript'));
    for (const p of devOnly) assert.ok(!existsSync(path.join(dest, p)), `${p} left out`);
    // Only the bundles the manifest names, not earlier builds kept in build/bundles.
    const manifest = JSON.parse(readFileSync(path.join(dest, 'build/bundles/manifest.json'), 'utf8')) as { bundles: Record<string, string> };
    assert.deepEqual(readdirSync(path.join(dest, 'build/bundles')).sort(), [...Object.values(manifest.bundles), 'manifest.json'].sort());
  });

  it('leaves every installed file writable by its owner only', () => {
    const dest = path.join(stage, PREFIX);
    const writable = filesUnder(dest).filter((f) => {
      const st = statSync(f, { throwIfNoEntry: false });
      return st !== undefined && (st.mode & 0o022) !== 0;
    });
    assert.deepEqual(writable, []);
    if (process.getuid?.() === 0) assert.equal(statSync(path.join(dest, 'gateway/cli/launch.mjs')).uid, 0);
  });

  it('systemd-analyze verify accepts the installed unit without a warning', { skip: analyzeSkip }, () => {
    const r = verify(path.join(stage, UNIT));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warning');
  });

  it('systemd-analyze security rates it 1.8 or better (offline)', { skip: analyzeSkip }, (t) => {
    const r = analyze(['security', '--offline=yes', path.join(stage, UNIT)]);
    const score = Number(/Overall exposure level for coap-sensor-gateway\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    assert.ok(score >= 0, r.stdout + r.stderr);
    t.diagnostic(`exposure ${score} (systemd-analyze security --offline=yes; 0 = most locked down, 10 = least)`);
    // --threshold is the exposure times ten: the command itself fails above 1.8.
    assert.equal(analyze(['security', '--offline=yes', '--threshold=18', path.join(stage, UNIT)]).status, 0, `exposure ${score} > 1.8`);
    // ...as it does for the same unit without its file system and system call sandboxing.
    const weaker = readFileSync(path.join(stage, UNIT), 'utf8').replace(/^(ProtectSystem|ProtectHome|SystemCallFilter)=.*\n/gm, '');
    const dir = mkdtempSync(path.join(stage, 'weaker-'));
    writeFileSync(path.join(dir, 'coap-sensor-gateway.service'), weaker);
    assert.notEqual(analyze(['security', '--offline=yes', '--threshold=18', path.join(dir, 'coap-sensor-gateway.service')]).status, 0);
  });

  it("runs the installed tree with the unit's ExecStart: serves GET /temp, reloads on SIGHUP, exits 0 on SIGTERM", async () => {
    const dest = path.join(stage, PREFIX);
    const config = path.join(stage, 'run-config.json');
    writeFileSync(config, readFileSync(path.join(stage, CONFIG), 'utf8').replace(`${PREFIX}/`, `${dest}/`));
    const [execStart] = directive(readFileSync(path.join(stage, UNIT), 'utf8'), 'ExecStart');
    const argv = execStart!
      .replace(`${PREFIX}/`, `${dest}/`)
      .replace(`/${CONFIG}`, config)
      .replace('$GATEWAY_OPTIONS', '--driver simulated --host 127.0.0.1 --port 0')
      .split(' ');
    const p = spawnGatewayProcess(argv, { cwd: '/' });
    const { child } = p;
    const out = () => p.out() + p.err();
    try {
      await p.waitFor(/listening on udp 127\.0\.0\.1:\d+/);
      const res = await getTemp(p.port());
      assert.equal(res?.code, '2.05');
      // Its native addons come from the installed tree, not from the checkout it was copied from.
      const addons = [...new Set(readFileSync(`/proc/${child.pid}/maps`, 'utf8').match(/\/\S+\.node$/gm) ?? [])];
      assert.ok(addons.length > 0, 'a native addon (cbor-extract) is loaded');
      for (const a of addons) assert.ok(a.startsWith(`${dest}/node_modules/`), `${a} is from the installed tree`);
      child.kill('SIGHUP');
      await p.waitFor(/module reloaded/);
      assert.match(out(), /module reloaded/);
    } finally {
      child.kill('SIGTERM');
      await p.exited;
    }
    assert.equal(child.exitCode, 0, out());
  });

  describe('systemd-analyze verify fails on a broken unit', () => {
    const broken: { what: string; edit: (unit: string) => string; message: RegExp }[] = [
      { what: 'a misspelt directive', edit: (u) => u.replace(/^NoNewPrivileges=yes$/m, 'NoNewPrivilege=yes'), message: /Unknown key 'NoNewPrivilege'/ },
      { what: 'a value systemd cannot parse', edit: (u) => u.replace(/^ProtectSystem=strict$/m, 'ProtectSystem=strcit'), message: /Failed to parse protect system value.*strcit/ },
      { what: 'a device rule with a bad access mode', edit: (u) => u.replace(/^DeviceAllow=char-i2c rw$/m, 'DeviceAllow=char-i2c rwx'), message: /Invalid device rights 'rwx'/ },
      { what: 'an ExecStart binary that does not exist', edit: (u) => u.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/bin/node'), message: /Command \/nonexistent\/bin\/node is not executable/ },
    ];
    for (const { what, edit, message } of broken) {
      it(`catches ${what}`, { skip: analyzeSkip }, () => {
        const good = readFileSync(path.join(stage, UNIT), 'utf8');
        const unit = edit(good);
        assert.notEqual(unit, good, 'the edit applies to the unit');
        const dir = mkdtempSync(path.join(stage, 'broken-'));
        const file = path.join(dir, 'coap-sensor-gateway.service');
        writeFileSync(file, unit);
        const r = verify(file);
        assert.notEqual(r.status, 0, `verify passed a unit with ${what}`);
        assert.match(r.stderr, message);
      });
    }
  });

  it('upgrades when run again: the tree replaced whole, the configuration kept', () => {
    const dest = path.join(stage, PREFIX);
    const leftover = path.join(dest, 'gateway/removed-in-this-version.ts');
    writeFileSync(leftover, '// from an older version\n');
    const configFile = path.join(stage, CONFIG);
    const edited = readFileSync(configFile, 'utf8').replace('"rateHz": 4', '"rateHz": 1');
    writeFileSync(configFile, edited);
    const r = install(['--root', stage, '--no-start']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /keeping the existing configuration/);
    assert.ok(!existsSync(leftover), 'a file the new version does not have is gone');
    assert.equal(readFileSync(configFile, 'utf8'), edited);
    assert.ok(existsSync(path.join(dest, 'gateway/cli/launch.mjs')));
    assert.ok(!existsSync(`${dest}.new`) && !existsSync(`${dest}.old`), 'no half-way directory left');
  });
});

describe('install-service.sh --root: the unit follows the configuration', () => {
  let stage: string;
  before(() => (stage = mkdtempSync(path.join(tmpdir(), 'gw-stage-'))));
  after(() => rmSync(stage, { recursive: true, force: true }));

  function installWith(config: unknown): string {
    mkdirSync(path.join(stage, path.dirname(CONFIG)), { recursive: true });
    writeFileSync(path.join(stage, CONFIG), JSON.stringify(config));
    const r = install(['--root', stage, '--no-start']);
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(path.join(stage, UNIT), 'utf8');
  }

  it('waits for every bus the configuration reads', { skip: analyzeSkip }, () => {
    const unit = installWith({ sensors: [{ name: 'a' }, { name: 'b', bus: 3, address: '0x49' }] });
    assert.deepEqual(directive(unit, 'Wants'), ['modprobe@i2c_dev.service dev-i2c\\x2d1.device dev-i2c\\x2d3.device']);
    const r = verify(path.join(stage, UNIT));
    assert.equal(r.status, 0, r.stderr);
  });

  it('waits for no adapter when the configuration simulates', { skip: analyzeSkip }, () => {
    const unit = installWith({ driver: 'simulated', sensors: [{ name: 'a' }] });
    assert.deepEqual(directive(unit, 'Wants'), []);
    assert.deepEqual(directive(unit, 'After'), ['network.target']);
    const r = verify(path.join(stage, UNIT));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '');
  });

  it('--uninstall removes the tree, the unit and the udev rule, and keeps the configuration', () => {
    installWith({ driver: 'simulated', sensors: [{ name: 'a' }] });
    const r = install(['--root', stage, '--uninstall']);
    assert.equal(r.status, 0, r.stderr);
    for (const f of [PREFIX, UNIT, UDEV_RULE]) assert.ok(!existsSync(path.join(stage, f)), `${f} removed`);
    assert.ok(existsSync(path.join(stage, CONFIG)));
  });
});

describe('install-service.sh refuses, with a message, what would not run', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'gw-refuse-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('never replaces or removes a git checkout at the prefix (someone cloned into /opt)', () => {
    const stage = path.join(dir, 'clone-at-prefix');
    const clone = path.join(stage, PREFIX);
    mkdirSync(path.join(clone, '.git'), { recursive: true });
    mkdirSync(path.join(clone, 'gateway/cli'), { recursive: true });
    writeFileSync(path.join(clone, 'gateway/cli/launch.mjs'), '');
    writeFileSync(path.join(clone, '.install-info'), 'installed=never\n');
    for (const args of [['--uninstall'], ['--no-start']]) {
      const r = install(['--root', stage, ...args]);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /not an installation/);
      assert.ok(existsSync(path.join(clone, '.git')), `${args.join(' ')} left the checkout alone`);
    }
  });

  it('checks the Node version it installs for, as the launcher does', () => {
    assert.match(readFileSync(SCRIPT, 'utf8'), new RegExp(`^readonly REQUIRED_NODE_MAJOR=${REQUIRED_NODE_MAJOR}$`, 'm'));
    const oldNode = path.join(dir, 'node18');
    writeFileSync(oldNode, '#!/bin/sh\necho 18.20.4\n');
    chmodSync(oldNode, 0o755);
    const r = install(['--root', path.join(dir, 'stage'), '--node', oldNode]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Node\.js 18\.20\.4; the gateway needs Node\.js >= 20/);
    assert.ok(!existsSync(path.join(dir, 'stage', PREFIX)), 'nothing copied');
  });

  it('refuses a prefix the sandbox hides (ProtectHome=yes, PrivateTmp=yes)', () => {
    for (const prefix of ['/home/pi/gateway', '/tmp/gateway', 'relative/path']) {
      const r = install(['--root', path.join(dir, 'stage'), '--prefix', prefix]);
      assert.equal(r.status, 1, prefix);
      assert.match(r.stderr, /--prefix/);
    }
  });

  /** A checkout with the files the script looks at (and a copy of the script), `npm ci` never run. */
  function fakeCheckout(name: string): string {
    const fake = path.join(dir, name);
    const files = ['package.json', 'gateway/cli/launch.mjs', 'gateway/bundle-manifest.mjs', 'gateway/bundle-file.mjs'];
    for (const f of [...files, 'deploy/coap-sensor-gateway.service', 'deploy/70-coap-sensor-gateway-i2c.rules', 'deploy/install-service.sh']) {
      mkdirSync(path.dirname(path.join(fake, f)), { recursive: true });
      copyFileSync(path.join(ROOT, f), path.join(fake, f));
    }
    mkdirSync(path.join(fake, 'node_modules'));
    mkdirSync(path.join(fake, 'build/bundles'), { recursive: true });
    writeFileSync(path.join(fake, 'build/bundles/manifest.json'), '{}');
    return fake;
  }

  it('names the missing file of an incomplete checkout', () => {
    const fake = fakeCheckout('no-module');
    const r = install(['--root', path.join(dir, 'stage')], path.join(fake, 'deploy/install-service.sh'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /modules\/tmp102\.wasm is missing/);
  });

  it('refuses a checkout whose bundles are older than its sources, before copying anything', () => {
    const fake = fakeCheckout('stale');
    mkdirSync(path.join(fake, 'modules'));
    writeFileSync(path.join(fake, 'modules/tmp102.wasm'), '');
    // Empty bundles, named as build-bundles names them: <name>.<sha256 of the content, 12 hex>.mjs.
    const bundles = Object.fromEntries(Object.keys(BUNDLE_ENTRIES).map((name) => [name, `${name}.e3b0c44298fc.mjs`]));
    for (const file of Object.values(bundles)) writeFileSync(path.join(fake, 'build/bundles', file), '');
    const inputs = { 'gateway/cli/launch.mjs': '0'.repeat(64) }; // built from another launch.mjs
    writeFileSync(path.join(fake, 'build/bundles/manifest.json'), JSON.stringify({ format: 1, bundles, entries: BUNDLE_ENTRIES, inputs }));
    const r = install(['--root', path.join(dir, 'stage-stale')], path.join(fake, 'deploy/install-service.sh'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /GW_ERR_BUILD_STALE: .*gateway\/cli\/launch\.mjs/);
    assert.ok(!existsSync(path.join(dir, 'stage-stale', PREFIX)), 'nothing copied');
  });

  it('answers an unknown option with its usage, exit 2', () => {
    const r = install(['--frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /usage: /);
  });
});
