/**
 * Which board the gateway runs on, from the device tree's model string. A Raspberry Pi says
 * so there ("Raspberry Pi 4 Model B Rev 1.5", "Raspberry Pi 5 Model B Rev 1.0"); a laptop or a
 * CI machine has no device tree at all. The gateway uses this to decide whether a missing
 * /dev/i2c-N means "no hardware here, simulate" (not a Pi) or "I2C is not enabled, refuse"
 * (a Pi): a simulated reading must never pass for a measurement on the board that should
 * have measured it.
 *
 * /proc/device-tree is a link to /sys/firmware/devicetree/base; both are read because a
 * container may show one and not the other. The string ends with a NUL (it is a device-tree
 * property), which is dropped. A container may hide /sys/firmware altogether (Docker masks it),
 * so the `Model` line that Raspberry Pi kernels add to /proc/cpuinfo is the last resort.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface Board {
  /** The device tree's model string, or undefined where there is none. */
  model: string | undefined;
  isRaspberryPi: boolean;
}

const MODEL_FILES = ['proc/device-tree/model', 'sys/firmware/devicetree/base/model'];

/** `root` is a test seam: a directory standing in for `/`. */
export function detectBoard(root = '/'): Board {
  for (const rel of MODEL_FILES) {
    let model: string;
    try {
      model = readFileSync(path.join(root, rel), 'latin1').replace(/\0+$/, '').trim();
    } catch {
      continue;
    }
    if (model) return { model, isRaspberryPi: /^Raspberry Pi\b/.test(model) };
  }
  try {
    const model = /^Model\s*:\s*(.+)$/m.exec(readFileSync(path.join(root, 'proc/cpuinfo'), 'latin1'))?.[1]?.trim();
    if (model) return { model, isRaspberryPi: /^Raspberry Pi\b/.test(model) };
  } catch {
    // no /proc/cpuinfo: not Linux, or a test root
  }
  return { model: undefined, isRaspberryPi: false };
}
