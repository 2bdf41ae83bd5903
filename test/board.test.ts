/**
 * On a Raspberry Pi a missing I2C adapter is a set-up fault, never a reason to simulate: the
 * board comes from the device tree's model string (drivers/board.ts), and the auto driver
 * choice refuses there unless the simulation is asked for by name.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { detectBoard } from '../drivers/board.ts';
import { ManualClock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { openI2CBus } from '../drivers/open-i2c-bus.ts';
import { GatewayError } from '../gateway/errors.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { openHardware } from '../gateway/service/hardware.ts';

const dirs: string[] = [];
function tmp(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A root whose device tree says `model` (a device-tree string property ends with a NUL). */
function rootWithModel(model: string, where = 'proc/device-tree'): string {
  const root = tmp('root-');
  mkdirSync(path.join(root, where), { recursive: true });
  writeFileSync(path.join(root, where, 'model'), `${model}\0`, 'latin1');
  return root;
}

const PI4 = { model: 'Raspberry Pi 4 Model B Rev 1.5', isRaspberryPi: true };

describe('detectBoard', () => {
  it('reads a Raspberry Pi from /proc/device-tree/model, without its NUL', () => {
    assert.deepEqual(detectBoard(rootWithModel('Raspberry Pi 5 Model B Rev 1.0')), { model: 'Raspberry Pi 5 Model B Rev 1.0', isRaspberryPi: true });
  });

  it('falls back to /sys/firmware/devicetree/base/model', () => {
    assert.deepEqual(detectBoard(rootWithModel('Raspberry Pi Zero 2 W Rev 1.0', 'sys/firmware/devicetree/base')).isRaspberryPi, true);
  });

  it('in a container that hides /sys/firmware, reads the Model line of /proc/cpuinfo', () => {
    const root = tmp('root-');
    mkdirSync(path.join(root, 'proc'));
    writeFileSync(path.join(root, 'proc/cpuinfo'), 'processor\t: 0\nBogoMIPS\t: 108.00\n\nRevision\t: c03115\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4 Model B Rev 1.5\n');
    assert.deepEqual(detectBoard(root), PI4);
  });

  it('another board with a device tree is not a Pi; no device tree at all is not a Pi', () => {
    assert.deepEqual(detectBoard(rootWithModel('Pine64 RockPro64 v2.1')), { model: 'Pine64 RockPro64 v2.1', isRaspberryPi: false });
    assert.deepEqual(detectBoard(tmp('root-')), { model: undefined, isRaspberryPi: false });
  });
});

describe('the auto driver on a Raspberry Pi without /dev/i2c-N', () => {
  it('is refused with GW_ERR_I2C_NO_ADAPTER, the fix and how to ask for the simulation', () => {
    const dev = tmp('dev-');
    const err = (() => {
      try {
        openI2CBus({ driver: 'auto', busNumber: 1, clock: new ManualClock(), devDirectory: dev, board: PI4 });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof I2CError);
    assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.match(err.message, /raspi-config nonint do_i2c 0/);
    assert.match(err.message, /Raspberry Pi 4 Model B/);
    assert.match(err.message, /--driver simulated/);
  });

  it('runs the simulation when it is asked for by name, and uses the adapter when it exists', () => {
    const dev = tmp('dev-');
    assert.equal(openI2CBus({ driver: 'simulated', busNumber: 1, clock: new ManualClock(), devDirectory: dev, board: PI4 }).bus.kind, 'simulated');
    writeFileSync(path.join(dev, 'i2c-1'), '');
    assert.equal(openI2CBus({ driver: 'auto', busNumber: 1, devDirectory: dev, board: PI4 }).bus.kind, 'linux');
  });

  it('on a machine that is not a Pi the simulation stays the default, and says why', () => {
    const opened = openI2CBus({ driver: 'auto', busNumber: 1, clock: new ManualClock(), devDirectory: tmp('dev-'), board: { model: undefined, isRaspberryPi: false } });
    assert.equal(opened.bus.kind, 'simulated');
    assert.match(opened.description, /this is not a Raspberry Pi/);
  });

  it('reaches the service as a catalogue error naming the sensor, with no bus left open', () => {
    const config = defaultConfig();
    const err = (() => {
      try {
        openHardware(config, new ManualClock(), { board: PI4, devDirectory: tmp('dev-') });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal(err.details.sensor, 'tmp102');
  });
});
