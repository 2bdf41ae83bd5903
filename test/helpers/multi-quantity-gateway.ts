/**
 * A gateway over real UDP with two sensors on one simulated bus: the TMP102 at /temp (one
 * quantity, served as it always was) and the SHT3x module (modules/sht3x.wasm, ABI 1.1:
 * temperature and humidity) at /env, on the simulated SHT3x-DIS (drivers/sim/sht3x.ts) chosen
 * from the configuration (`simulation.device: "sht3x"`), as a user's config file chooses it.
 *
 * The SHT3x's air is 25 °C and 40 %RH unless told otherwise; the chip holds the 16-bit words
 * nearest them (sht3xCelsiusToRaw, sht3xPercentRhToRaw), and `expected` says what the module
 * reports for them (the datasheet's formulas, section 4.13), to the LSB.
 */
import { ManualClock } from '../../drivers/clock.ts';
import { SimulatedSht3x } from '../../drivers/sim/sht3x.ts';
import { sht3xCelsiusToRaw, sht3xPercentRhToRaw, sht3xRawToCelsius, sht3xRawToPercentRh } from '../../drivers/sim/sht3x-format.ts';
import { GatewayServer } from '../../gateway/coap/server.ts';
import { type Logger, silentLogger } from '../../gateway/log.ts';
import { parseConfig } from '../../gateway/service/config.ts';
import { type Hardware, openHardware } from '../../gateway/service/hardware.ts';
import { SensorService } from '../../gateway/service/sensor-service.ts';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface MultiQuantityGateway {
  server: GatewayServer;
  service: SensorService;
  clock: ManualClock;
  port: number;
  /** The simulated SHT3x behind /env. */
  sht3x: SimulatedSht3x;
  close(): Promise<void>;
}

/** What the module reports for air at `celsius` and `percentRh`: the values of the chip's nearest words, to 4 decimals as the gateway serves them. */
export function expected(celsius: number, percentRh: number): { temperature: number; humidity: number } {
  return { temperature: round4(sht3xRawToCelsius(sht3xCelsiusToRaw(celsius))), humidity: round4(sht3xRawToPercentRh(sht3xPercentRhToRaw(percentRh))) };
}

function round4(v: number): number {
  return Number(v.toFixed(4));
}

/** `unpluggedAtStart`: the SHT3x is absent while the service starts (its module cannot announce its quantities); the test plugs it back with `sht3x.clearFault()`. */
export async function startMultiQuantityGateway(opts: { celsius?: number; percentRh?: number; logger?: Logger; envPath?: string; extraSensors?: unknown[]; unpluggedAtStart?: boolean } = {}): Promise<MultiQuantityGateway> {
  const clock = new ManualClock();
  const logger = opts.logger ?? silentLogger;
  const config = parseConfig(
    {
      driver: 'simulated',
      sensors: [
        { name: 'tmp102', module: 'modules/tmp102.wasm', path: '/temp', bus: 1, address: 0x48, simulation: { kind: 'constant', celsius: 21.5 } },
        { name: 'env', module: 'modules/sht3x.wasm', path: opts.envPath ?? '/env', bus: 1, address: 0x44, simulation: { device: 'sht3x', temperature: { kind: 'constant', celsius: opts.celsius ?? 25 }, humidity: { kind: 'constant', percent: opts.percentRh ?? 40 } } },
        ...(opts.extraSensors ?? []),
      ],
    },
    ROOT,
  );
  let devices: Hardware['simulated'] | undefined;
  const service = await SensorService.start(config, {
    clock,
    logger,
    isolation: 'in-thread',
    openHardware: (...args: Parameters<typeof openHardware>): Hardware => {
      const hardware = openHardware(...args);
      devices = hardware.simulated;
      const env = hardware.simulated.get('env');
      if (opts.unpluggedAtStart && env instanceof SimulatedSht3x) env.inject('unplugged');
      return hardware;
    },
  });
  let server: GatewayServer;
  try {
    server = await GatewayServer.start({ service, logger, clock, host: '127.0.0.1', port: 0 });
  } catch (err) {
    await service.close();
    throw err;
  }
  clock.advanceMs(40); // the TMP102's first conversion (35 ms max); the SHT3x's takes 15.5 ms (Table 4)
  const sht3x = devices?.get('env');
  if (!(sht3x instanceof SimulatedSht3x)) {
    await server.close();
    await service.close();
    throw new Error('no simulated SHT3x for sensor env');
  }
  return {
    server,
    service,
    clock,
    port: server.port,
    sht3x,
    async close() {
      await server.close();
      await service.close();
    },
  };
}
