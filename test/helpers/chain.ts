/**
 * Builds the chain under test from real parts: the Go-built .wasm, the gateway's WASM host, a
 * simulated I2C bus with a simulated TMP102, one ManualClock for all of them and a
 * MemoryLogger to assert on what was logged.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../drivers/clock.ts';
import type { SimulatedI2CBus } from '../../drivers/sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus } from '../../drivers/sim/simulated-tmp102-bus.ts';
import { constantProfile } from '../../drivers/sim/temperature-profile.ts';
import type { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import type { I2CBus } from '../../drivers/i2c-bus.ts';
import { MemoryLogger } from '../../gateway/log.ts';
import type { LogThrottle } from '../../gateway/log-throttle.ts';
import { SensorModule } from '../../gateway/host/sensor-module.ts';
import type { I2CGrant } from '../../gateway/host/capabilities.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * A module file: `tmp102` is the shipped production module (modules/tmp102.wasm); `test/<name>`
 * is a test module that `npm test` builds with Go (node wasm-src/build.mjs --test).
 */
export function wasmPath(name: string): string {
  const file = name.startsWith('test/') ? path.join(root, 'build', 'wasm', 'go', `${name}.wasm`) : path.join(root, 'modules', `${name}.wasm`);
  if (!existsSync(file)) throw new Error(`${file} missing: ${name.startsWith('test/') ? 'build the test modules with node wasm-src/build.mjs --test (needs Go)' : 'it is shipped in the repository'}`);
  return file;
}

/**
 * Why tests that need Go-built test modules are skipped, or undefined when they run. Without
 * Go (a Raspberry Pi, the arm64 tier) `npm test` cannot build them and skips those tests with
 * this reason; with GW_GO_REQUIRED=1 (CI) they always run, and a missing module fails them.
 */
export const TEST_MODULES_SKIP: string | undefined =
  process.env['GW_GO_REQUIRED'] === '1' || existsSync(path.join(root, 'build', 'wasm', 'go', 'test', 'trap.wasm'))
    ? undefined
    : 'needs the Go-built test modules (no Go on the PATH: node wasm-src/build.mjs --test builds them)';

export interface Chain {
  clock: ManualClock;
  bus: SimulatedI2CBus;
  chip: SimulatedTmp102;
  logger: MemoryLogger;
  sensor: SensorModule;
}

export interface ChainOptions {
  module?: string;
  celsius?: number;
  settings?: Record<string, unknown>;
  address?: number;
  grant?: I2CGrant;
  /** Replace the bus the module sees (e.g. a LinuxI2CBus on a missing adapter). */
  bus?: I2CBus;
  /** Skip gw_init at construction. */
  noStart?: boolean;
  /** The module's log throttle (default: the engine makes its own); also on the ManualClock. */
  logThrottle?: (clock: ManualClock) => LogThrottle;
}

export async function makeChain(options: ChainOptions = {}): Promise<Chain> {
  const clock = new ManualClock();
  const logger = new MemoryLogger();
  const address = options.address ?? 0x48;
  const { bus, tmp102: chip } = createSimulatedTmp102Bus({ clock, profile: constantProfile(options.celsius ?? 21.5) });
  const sensor = await SensorModule.fromFile(wasmPath(options.module ?? 'tmp102'), {
    name: 'tmp102',
    capabilities: { i2c: options.grant ?? { bus: 1, addresses: [address] } },
    bus: options.bus ?? bus,
    clock,
    logger,
    init: { bus: 1, address, settings: options.settings ?? {} },
    logThrottle: options.logThrottle?.(clock),
  });
  if (!options.noStart) sensor.start();
  return { clock, bus, chip, logger, sensor };
}

/** Runs `fn` and returns the error it threw (fails when it returns normally). */
export function thrown(fn: () => unknown): Error & { code?: string; details?: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, none thrown');
}
