/**
 * Fakes for the doctor's tests: a directory standing for `/` (fake /dev, /boot, /etc, /sys), a
 * recording i2c-bus module whose transfers reach a simulated bus (so the real LinuxI2CBus and
 * the real Go module run on top of it) and fail with scripted errnos, and a DoctorTarget.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { I2cBusSync, OpenOptions } from 'i2c-bus';
import { I2CError, type I2CErrorCode } from '../../drivers/i2c-error.ts';
import type { I2cBusModule } from '../../drivers/linux-i2c-bus.ts';
import type { SimulatedI2CBus } from '../../drivers/sim/sim-i2c-bus.ts';
import { type DriverChoice, defaultConfig } from '../../gateway/service/config.ts';
import type { Check, CheckOutcome } from '../../gateway/service/doctor/check.ts';
import type { DoctorTarget } from '../../gateway/service/doctor/context.ts';
import { type DoctorEnvironment, defaultEnvironment } from '../../gateway/service/doctor/environment.ts';

/** A temporary directory standing for `/`, filled with `files` (path → content). */
export function fakeRoot(files: Record<string, string> = {}): { root: string; write(file: string, content: string): string; remove(): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'doctor-root-'));
  const write = (file: string, content: string) => {
    const full = path.join(root, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
    return full;
  };
  for (const [file, content] of Object.entries(files)) write(file, content);
  return { root, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** The device-tree model of a Raspberry Pi 4 (a device-tree string ends with NUL). */
export const PI4_MODEL = { 'proc/device-tree/model': 'Raspberry Pi 4 Model B Rev 1.5\0' };

export const PI_USER = { uid: 1000, gid: 1000, groups: [1000], user: 'pi' };

export function testEnvironment(root: string, overrides: Partial<DoctorEnvironment> = {}): DoctorEnvironment {
  return defaultEnvironment({ root, identity: () => PI_USER, bindUdp: async () => {}, ...overrides });
}

export function target(options: { bus?: number; address?: number; driver?: DriverChoice; alertGpio?: number; module?: string; host?: string; port?: number } = {}): DoctorTarget {
  const sensor = defaultConfig({ bus: options.bus, address: options.address, ...(options.module ? { module: options.module } : {}) }).sensors[0]!;
  if (options.alertGpio !== undefined) sensor.alertGpio = options.alertGpio;
  return { sensor, driver: options.driver === 'simulated' ? 'simulated' : 'linux', host: options.host ?? '::', port: options.port ?? 5683 };
}

/** The errno a Raspberry Pi's bcm2835 adapter reports for each simulated fault. */
const ERRNO_FOR: Partial<Record<I2CErrorCode, string>> = { GW_ERR_I2C_NACK: 'EREMOTEIO', GW_ERR_I2C_BUS: 'EIO', GW_ERR_I2C_TIMEOUT: 'ETIMEDOUT' };

type Op = 'writeQuickSync' | 'receiveByteSync' | 'readWordSync' | 'writeWordSync' | 'readByteSync' | 'writeByteSync' | 'sendByteSync';

/**
 * i2c-bus's synchronous API over a simulated bus, recording each call. `errnoAt` fails every
 * transfer to an address with that errno (EBUSY as I2C_SLAVE does for a claimed address,
 * ENXIO...); `openErrno` fails every transfer, as i2c-bus does when opening /dev/i2c-N on the
 * first transfer fails; `unsupported` makes the adapter refuse one SMBus command (EOPNOTSUPP).
 */
export class RecordingI2cModule implements I2cBusModule {
  readonly calls: string[] = [];
  readonly errnoAt = new Map<number, string>();
  openErrno: string | undefined;
  readonly unsupported = new Set<Op>();

  constructor(readonly sim: SimulatedI2CBus) {}

  openSync(_busNumber: number, _options?: OpenOptions): I2cBusSync {
    const run = <T>(op: Op, address: number, args: number[], body: () => T): T => {
      this.calls.push(`${op}(${[address, ...args].map((a) => `0x${a.toString(16)}`).join(',')})`);
      const errno = this.openErrno ?? (this.unsupported.has(op) ? 'EOPNOTSUPP' : this.errnoAt.get(address));
      if (errno) throw Object.assign(new Error(`${errno}, fake ${op}`), { code: errno });
      try {
        return body();
      } catch (err) {
        const mapped = err instanceof I2CError ? ERRNO_FOR[err.code] : undefined;
        if (mapped) throw Object.assign(new Error(`${mapped}, ${err instanceof Error ? err.message : err}`), { code: mapped });
        throw err;
      }
    };
    const sim = this.sim;
    const fake: I2cBusSync = {
      closeSync: () => {},
      writeQuickSync: (a, bit) => run('writeQuickSync', a, [bit], () => (sim.write(a, new Uint8Array(0)), fake)),
      receiveByteSync: (a) => run('receiveByteSync', a, [], () => sim.read(a, 1)[0]!),
      sendByteSync: (a, b) => run('sendByteSync', a, [b], () => (sim.write(a, Uint8Array.of(b)), fake)),
      readByteSync: (a, c) => run('readByteSync', a, [c], () => sim.readRegister(a, c, 1)[0]!),
      // SMBus words: the first wire byte is the low byte.
      readWordSync: (a, c) => run('readWordSync', a, [c], () => {
        const [msb, lsb] = sim.readRegister(a, c, 2);
        return (lsb! << 8) | msb!;
      }),
      writeByteSync: (a, c, b) => run('writeByteSync', a, [c, b], () => (sim.writeRegister(a, c, Uint8Array.of(b)), fake)),
      writeWordSync: (a, c, w) => run('writeWordSync', a, [c, w], () => (sim.writeRegister(a, c, Uint8Array.of(w & 0xff, w >> 8)), fake)),
      readI2cBlockSync: () => {
        throw Object.assign(new Error('EOPNOTSUPP'), { code: 'EOPNOTSUPP' });
      },
      writeI2cBlockSync: () => {
        throw Object.assign(new Error('EOPNOTSUPP'), { code: 'EOPNOTSUPP' });
      },
      i2cReadSync: () => {
        throw Object.assign(new Error('EOPNOTSUPP'), { code: 'EOPNOTSUPP' });
      },
      i2cWriteSync: () => {
        throw Object.assign(new Error('EOPNOTSUPP'), { code: 'EOPNOTSUPP' });
      },
    };
    return fake;
  }
}

/** Runs one check on its own, with a fresh context. */
export async function runCheck(check: Check, env: DoctorEnvironment, t: DoctorTarget = target()): Promise<CheckOutcome> {
  return check.run({ target: t, env, bus: undefined, scan: undefined, module: undefined });
}
