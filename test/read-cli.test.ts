/**
 * `npm run read` as a person at a Pi without I2C uses it: a real child process (the launcher
 * and its bundle, as package.json runs it), the real module, the simulated TMP102 on the system
 * clock.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

async function read(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['gateway/cli/launch.mjs', 'read', ...args], { cwd: root, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run read', () => {
  it('reads the simulated TMP102 at a negative temperature as JSON', async () => {
    const { code, stdout } = await read('--sim-temp', '-12.25', '--json');
    assert.equal(code, 0);
    const reading = JSON.parse(stdout);
    assert.equal(reading.sensor, 'tmp102');
    assert.equal(reading.value, -12.25);
    assert.equal(reading.unit, 'Cel');
    assert.equal(reading.raw, '0xf3c0', 'SBOS397: -12.25 °C is 0xF3C in 12 bits, left-justified');
    assert.equal(reading.bits, 12);
    assert.ok(Math.abs(Date.parse(reading.time) - Date.now()) < 60_000);
    assert.match(reading.source, /^simulated TMP102 at 0x48/);
    assert.equal(reading.simulated, true);
  });

  it('prints a human line by default', async () => {
    const { code, stdout, stderr } = await read('--sim-temp', '21.5');
    assert.equal(code, 0);
    assert.match(stdout, /^tmp102: 21\.5 °C {2}\(SIMULATED, not a measurement; /);
    assert.match(stderr, /simulated TMP102/);
  });

  it('reports a missing adapter with its code and exit status 1', async () => {
    const { code, stdout } = await read('--driver', 'linux', '--bus', '97', '--json');
    assert.equal(code, 1);
    assert.equal(JSON.parse(stdout).error.code, 'GW_ERR_I2C_NO_ADAPTER');
  });

  it('rejects a bad address as a usage error (exit 2), and one a TMP102 cannot have', async () => {
    for (const address of ['0x99', '0x50', '0x47']) {
      const { code, stderr } = await read('--address', address);
      assert.equal(code, 2, address);
      assert.match(stderr, /^--address must be/);
    }
  });

  it('refuses --bus, --address or --module beside --config, which names them (exit 2)', async () => {
    for (const flag of [['--bus', '1'], ['--address', '0x49'], ['--module', 'modules/tmp102.wasm']]) {
      const { code, stderr } = await read('--config', 'fixtures/gateway.example.json', ...flag);
      assert.equal(code, 2, flag.join(' '));
      assert.match(stderr, /cannot be combined with --config/);
    }
  });

  it('refuses a simulated temperature outside the TMP102 range (exit 2)', async () => {
    const { code, stderr } = await read('--sim-temp', '200');
    assert.equal(code, 2);
    assert.match(stderr, /^--sim-temp must be within the TMP102's range/);
  });
});
