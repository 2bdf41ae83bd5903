/**
 * Check 5: the sensor at its address is what its module expects, as the module itself decides:
 * the configured module (default the shipped TMP102 module) is loaded the way the service loads
 * it (module-factory.ts: file, sha256, ABI validation, capability grant) and its gw_init runs on
 * the bus. For the TMP102 that is the identity check of wasm-src/tmp102/driver.go (R1R0 read
 * 11 and the reserved low bits of the configuration register 0, as Linux's tmp102.c probes),
 * then the configuration written and read back. A different chip gives
 * GW_ERR_SENSOR_WRONG_DEVICE, no chip GW_ERR_I2C_NACK.
 *
 * gw_init configures the chip (resolution, rate, thermostat settings), as `npm start` would.
 */
import path from 'node:path';
import { hexAddress } from '../../../drivers/i2c-scan.ts';
import { GatewayError } from '../../errors.ts';
import { MemoryLogger } from '../../log.ts';
import { PROJECT_ROOT } from '../config.ts';
import { loadModule } from '../module-factory.ts';
import { ADD0_WIRING, adviceFor } from './advice.ts';
import type { Check, CheckOutcome } from './check.ts';
import { type DoctorContext, sensorBus } from './context.ts';

export const sensorIdentityCheck: Check = {
  id: 'sensor-identity',
  name: 'Sensor identity',
  needs: ['node-version', 'i2c-scan'],
  async run(ctx) {
    const { sensor } = ctx.target;
    const bus = sensorBus(ctx);
    const at = `${hexAddress(sensor.address)} on ${bus.kind === 'simulated' ? 'simulated ' : ''}bus ${sensor.bus}`;
    const moduleFile = path.relative(PROJECT_ROOT, sensor.module) || sensor.module;
    const hardware = { buses: new Map([[sensor.bus, bus]]), simulated: new Map(), descriptions: [], close() {} };
    try {
      // In-thread: the doctor is a one-shot tool; the service's worker only adds limits around the same engine.
      const { handle, sha256 } = await loadModule({ ...sensor, isolation: 'in-thread' }, { clock: ctx.env.clock, logger: new MemoryLogger(), hardware, isolation: 'in-thread' });
      const info = await handle.start();
      ctx.module = handle;
      const alert = info.alert ? `; ALERT ${info.alert.mode}, ${info.alert.polarity}, ${info.alert.low}..${info.alert.high} ${info.unit}` : '';
      return {
        status: 'ok',
        detail: `${info.name} ${info.version} (${moduleFile}) identified and configured the device at ${at}: a new value every ${info.periodMs} ms${alert}`,
        data: { module: moduleFile, sha256, name: info.name, version: info.version, periodMs: info.periodMs, address: hexAddress(sensor.address) },
      };
    } catch (err) {
      if (!(err instanceof GatewayError)) throw err;
      return identityFailure(ctx, err, at, moduleFile);
    }
  },
};

function identityFailure(ctx: DoctorContext, err: GatewayError, at: string, moduleFile: string): CheckOutcome {
  const { sensor } = ctx.target;
  const errno = (err.cause as { errno?: string } | undefined)?.errno;
  const scanned = scanSummary(ctx);
  const data = { module: moduleFile, address: hexAddress(sensor.address), scanFound: ctx.scan?.found.map(hexAddress) ?? null };
  const base = { status: 'fail' as const, code: err.code, ...(errno ? { errno } : {}), data };
  switch (err.code) {
    case 'GW_ERR_I2C_NACK': {
      // A TMP102 answering at another ADD0 address is the likeliest miswiring: name it.
      const elsewhere = (ctx.scan?.found ?? []).filter((a) => a >= 0x48 && a <= 0x4b && a !== sensor.address);
      const hint = elsewhere.length > 0 ? `; something answers at ${elsewhere.map(hexAddress).join(' ')}: if that is the TMP102, use --address ${hexAddress(elsewhere[0]!)} (sensors[].address)` : '';
      return {
        ...base,
        reason: 'no-answer',
        detail: `no device answered at ${at}${errno ? ` [${errno}]` : ''}; ${scanned}`,
        fix: `${adviceFor(err.code, sensor)}${hint}`,
      };
    }
    case 'GW_ERR_SENSOR_WRONG_DEVICE':
      return {
        ...base,
        reason: 'wrong-device',
        detail: `the device at ${at} is not a TMP102 (${err.details.detail ?? err.message}); ${scanned}`,
        fix: `another chip answers at ${hexAddress(sensor.address)}: check which device is wired there and the TMP102's address (${ADD0_WIRING})`,
      };
    default:
      return {
        ...base,
        reason: err.code.startsWith('GW_ERR_MODULE_') ? 'module' : 'error',
        detail: `${moduleFile} at ${at}: ${err.message}`,
        fix: adviceFor(err.code, sensor),
      };
  }
}

function scanSummary(ctx: DoctorContext): string {
  const scan = ctx.scan;
  if (!scan) return 'no scan was made';
  const found = scan.found.length > 0 ? scan.found.map(hexAddress).join(' ') : 'nothing';
  const busy = scan.busy.length > 0 ? `, UU at ${scan.busy.map(hexAddress).join(' ')}` : '';
  return `the scan found ${found}${busy}`;
}
