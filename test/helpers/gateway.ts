/**
 * Starts a real gateway (sensor service + CoAP server on an ephemeral UDP port) over the
 * simulated TMP102, for tests that talk to it through real sockets.
 *
 * The TMP102 module answers GW_ERR_SENSOR_NOT_READY for 35 ms after init (its first conversion);
 * with the default ManualClock the helper advances 40 ms so the first GET gets a reading.
 * A caller that passes another clock (a SystemClock) waits 40 ms of real time instead.
 *
 * Isolation: with a ManualClock the modules run in-thread by default, so each read completes
 * within the step of simulated time that triggered it and timing tests are deterministic; with
 * a SystemClock they run in worker threads, as `npm start` runs them. test/isolation.test.ts
 * covers the worker path end to end over CoAP.
 *
 * `simulated: false` stands the gateway on the same simulated chips but tells the service none
 * is simulated, as openHardware does on real I2C hardware (asRealHardware): the one way to see
 * what a measurement looks like without a TMP102 on this machine.
 */
import { type Clock, ManualClock } from '../../drivers/clock.ts';
import { SimulatedTmp102 } from '../../drivers/sim/tmp102.ts';
import type { SimulatedDevice } from '../../drivers/sim/simulated-device.ts';
import { GatewayServer, type GatewayServerOptions } from '../../gateway/coap/server.ts';
import { type Logger, silentLogger } from '../../gateway/log.ts';
import { type GatewayConfig, defaultConfig } from '../../gateway/service/config.ts';
import { type Hardware, openHardware } from '../../gateway/service/hardware.ts';
import type { Isolation } from '../../gateway/service/module-factory.ts';
import { SensorService } from '../../gateway/service/sensor-service.ts';

export interface TestGatewayOptions {
  /** Temperature of the simulated TMP102 (default 21.5 °C); ignored when `config` is given. */
  simCelsius?: number;
  /** Default: a fresh ManualClock. */
  clock?: Clock;
  /** Default: defaultConfig({ driver: 'simulated', simCelsius }). The driver is forced to 'simulated'. */
  config?: GatewayConfig;
  /** Default '127.0.0.1'; pass '::1' for IPv6 loopback or '::' for dual stack. */
  host?: string;
  /** Confirmable-notification timing (default RFC 7252's) and the random source of its back-off. */
  observeTiming?: GatewayServerOptions['observeTiming'];
  random?: () => number;
  /** Bounds of duplicate detection, in entries and bytes (default: the gateway's). */
  exchanges?: GatewayServerOptions['exchanges'];
  /** Bounds of the Observe table (RFC 7641 registrations), per source address, in all and in bytes (default: the gateway's). */
  observerLimits?: GatewayServerOptions['observerLimits'];
  /** Bounds of the representations held for Block2 transfers, in entries and bytes (default: the gateway's). */
  held?: GatewayServerOptions['held'];
  /** Default true, as in the product: loopback clients count as verified. False: the test is a stranger (amplification rules apply). */
  trustLoopback?: boolean;
  /** Default: 'in-thread' with a ManualClock, 'worker' otherwise. */
  isolation?: Isolation;
  /** Default: silent. A MemoryLogger lets a test assert what the gateway logged. */
  logger?: Logger;
  /**
   * Default true. False: the service is told no chip is simulated (asRealHardware); a list of
   * sensor names: only those are taken for real hardware.
   */
  simulated?: boolean | { real: string[] };
  /** OSCORE security contexts (closed with the gateway). */
  oscore?: GatewayServerOptions['oscore'];
  /** The access policy (default: the default rules). */
  access?: GatewayServerOptions['access'];
}

export interface TestGateway {
  server: GatewayServer;
  service: SensorService;
  /** The simulated chip of the first configured sensor. */
  sim: SimulatedTmp102;
  /** Every simulated chip by sensor name, those the service takes for real hardware included. */
  chips: Map<string, SimulatedTmp102>;
  clock: Clock;
  port: number;
  close(): Promise<void>;
}

/**
 * openHardware, except that it does not report the chips of the sensors named in `real` (default:
 * all) as simulated: the service takes them for real hardware, as it would with /dev/i2c-N. The
 * chips still answer; `chips` holds every one for the test to drive (filled when the service
 * opens the hardware).
 */
export function asRealHardware(real?: string[]): { openHardware: typeof openHardware; chips: Map<string, SimulatedTmp102> } {
  const chips = new Map<string, SimulatedTmp102>();
  return {
    chips,
    openHardware: (...args: Parameters<typeof openHardware>): Hardware => {
      const hardware = openHardware(...args);
      const reported = new Map<string, SimulatedDevice>();
      for (const [name, chip] of hardware.simulated) {
        if (chip instanceof SimulatedTmp102) chips.set(name, chip);
        if (real !== undefined && !real.includes(name)) reported.set(name, chip);
      }
      return { ...hardware, simulated: reported };
    },
  };
}

/** Time the TMP102 needs for its first conversion (datasheet: 26 ms typical, 35 ms max) plus margin. */
const FIRST_CONVERSION_MS = 40;

export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const clock = opts.clock ?? new ManualClock();
  const config: GatewayConfig = opts.config
    ? { ...opts.config, driver: 'simulated' }
    : defaultConfig({ driver: 'simulated', simCelsius: opts.simCelsius });
  const isolation = opts.isolation ?? (clock instanceof ManualClock ? 'in-thread' : 'worker');
  const logger = opts.logger ?? silentLogger;
  const real = opts.simulated === false ? asRealHardware() : typeof opts.simulated === 'object' ? asRealHardware(opts.simulated.real) : undefined;
  const service = await SensorService.start(config, { clock, logger, isolation, ...(real ? { openHardware: real.openHardware } : {}) });
  let server: GatewayServer;
  try {
    server = await GatewayServer.start({
      service,
      logger,
      clock,
      host: opts.host ?? '127.0.0.1',
      port: 0,
      ...(opts.observeTiming ? { observeTiming: opts.observeTiming } : {}),
      ...(opts.random ? { random: opts.random } : {}),
      ...(opts.exchanges ? { exchanges: opts.exchanges } : {}),
      ...(opts.observerLimits ? { observerLimits: opts.observerLimits } : {}),
      ...(opts.held ? { held: opts.held } : {}),
      ...(opts.trustLoopback !== undefined ? { trustLoopback: opts.trustLoopback } : {}),
      ...(opts.oscore ? { oscore: opts.oscore } : {}),
      ...(opts.access ? { access: opts.access } : {}),
    });
  } catch (err) {
    await service.close();
    throw err;
  }
  if (clock instanceof ManualClock) clock.advanceMs(FIRST_CONVERSION_MS);
  else await new Promise((resolve) => setTimeout(resolve, FIRST_CONVERSION_MS));
  const first = config.sensors[0]!.name;
  // These helpers serve TMP102s: the chips a test drives directly.
  const chips = real?.chips ?? new Map([...service.hardware.simulated].filter((e): e is [string, SimulatedTmp102] => e[1] instanceof SimulatedTmp102));
  const sim = chips.get(first);
  if (!sim) {
    await server.close();
    await service.close();
    throw new Error(`no simulated chip for sensor ${first}`);
  }
  let closed = false;
  return {
    server,
    service,
    sim,
    chips,
    clock,
    port: server.port,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      await service.close();
    },
  };
}
