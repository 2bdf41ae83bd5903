import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import type { GpioLevel } from '../drivers/gpio.ts';
import { LinuxGpioInput, type OnoffGpio, resolveSysfsGpio } from '../drivers/linux-gpio.ts';
import { SimulatedGpioInput } from '../drivers/sim/sim-gpio.ts';
import { SimulatedTmp102 } from '../drivers/sim/tmp102.ts';

/** A /sys/class/gpio tree as a given Pi and kernel show it. */
function sysfs(chips: Array<[name: string, label: string, base: number, ngpio: number]>): string {
  const root = mkdtempSync(join(tmpdir(), 'gpio-'));
  for (const [name, label, base, ngpio] of chips) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'label'), `${label}\n`);
    writeFileSync(join(root, name, 'base'), `${base}\n`);
    writeFileSync(join(root, name, 'ngpio'), `${ngpio}\n`);
  }
  return root;
}

describe('header GPIO to sysfs number through the pinctrl chip', () => {
  it('Pi 4 on kernel 6.6+: base 512', () => {
    const root = sysfs([['gpiochip512', 'pinctrl-bcm2711', 512, 58], ['gpiochip570', 'raspberrypi-exp-gpio', 570, 8]]);
    assert.equal(resolveSysfsGpio(17, root).sysfs, 529);
  });

  it('Pi 5 on kernel 6.6+: the RP1 chip at base 571, not the SoC chips before it', () => {
    const root = sysfs([
      ['gpiochip512', 'gpio-brcmstb@107d508500', 512, 32],
      ['gpiochip544', 'gpio-brcmstb@107d508520', 544, 4],
      ['gpiochip571', 'pinctrl-rp1', 571, 54],
    ]);
    assert.equal(resolveSysfsGpio(17, root).sysfs, 588);
  });

  it('Pi 5 on kernel 6.1: base 399', () => {
    assert.equal(resolveSysfsGpio(4, sysfs([['gpiochip399', 'pinctrl-rp1', 399, 54]])).sysfs, 403);
  });

  it('older Pis and kernels: base 0', () => {
    assert.equal(resolveSysfsGpio(17, sysfs([['gpiochip0', 'pinctrl-bcm2835', 0, 54]])).sysfs, 17);
  });

  it('refuses a machine without a Pi pinctrl chip, and one without sysfs GPIO', () => {
    assert.throws(() => resolveSysfsGpio(17, sysfs([['gpiochip0', 'gpio-mockup-A', 0, 8]])), { name: 'GpioResolveError' });
    assert.throws(() => resolveSysfsGpio(17, '/nonexistent/sys/class/gpio'), { name: 'GpioResolveError' });
  });
});

describe('LinuxGpioInput', () => {
  it('opens the translated number and forwards edges', async () => {
    const root = sysfs([['gpiochip512', 'pinctrl-bcm2711', 512, 58]]);
    let opened = -1;
    let fire!: (err: Error | null, v: GpioLevel) => void;
    const fake: OnoffGpio = { readSync: () => 1, watch: (cb) => (fire = cb), unwatchAll() {}, unexport() {} };
    const clock = new ManualClock();
    const input = await LinuxGpioInput.open(22, { sysfsRoot: root, clock, factory: (n) => ((opened = n), fake) });
    assert.equal(opened, 534);
    assert.match(input.description, /GPIO22 \(sysfs 534, pinctrl-bcm2711 base 512\)/);
    const seen: GpioLevel[] = [];
    input.watch((level) => seen.push(level));
    fire(null, 0);
    fire(null, 1);
    assert.deepEqual(seen, [0, 1]);
  });
});

describe('SimulatedGpioInput follows the simulated TMP102 ALERT output', () => {
  it('comparator mode, POL=0: low at T >= T_HIGH (80 °C), high again below T_LOW (75 °C)', () => {
    const clock = new ManualClock();
    const chip = new SimulatedTmp102({ clock });
    const gpio = new SimulatedGpioInput(chip);
    const edges: GpioLevel[] = [];
    gpio.watch((level) => edges.push(level));
    chip.setTemperature(85);
    clock.advanceMs(300);
    gpio.poll();
    assert.deepEqual(edges, [0]);
    assert.equal(gpio.read(), 0);
    chip.setTemperature(70);
    clock.advanceMs(300);
    gpio.poll();
    assert.deepEqual(edges, [0, 1]);
    gpio.close();
  });
});
