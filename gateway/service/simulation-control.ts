/**
 * Live control of a simulated gateway (issue 16, docs/simulation.md "Live control"): applies
 * the commands of POST /gw/sim and `npm run sim` to the scenario runner, and keeps what
 * GET /gw/sim answers and /gw/stats shows under `simulation`: the scenario's position, each
 * simulated sensor's state, and the recent changes, whoever made them.
 *
 *   POST /gw/sim, npm run sim ── command() ── parseSimCommand ── runner (drivers/sim/scenario-runner.ts)
 *                                    │
 *   runner's onEvent ─ recordEvent() ┤   (scenario steps, a live fault running out)
 *                                    └── log line "simulation changed", ring of recent changes
 *
 * Every change is logged at info and kept in a bounded ring, so a tester can see afterwards why
 * a device got a 5.03 at 10:02: the scenario unplugged the chip, or a colleague did.
 */
import type { Clock } from '../../drivers/clock.ts';
import { formatDuration } from '../../drivers/sim/duration.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { SimEvent, SimFault, SimSensorState } from '../../drivers/sim/scenario-runner.ts';
import type { SimDeviceKind } from '../../drivers/sim/simulated-device.ts';
import { type SimCommand, parseSimCommand } from './sim-command.ts';

export type { SimEvent, SimSensorState };

/**
 * What this control needs of the scenario runner: exactly the members it uses, so that the
 * runner satisfies it structurally and tests can stand a fake in its place.
 */
export interface SimulationDriver {
  readonly ended: Promise<void>;
  readonly sensors: readonly string[];
  readonly scenario: { name: string; seed: number } | undefined;
  readonly timeMs: number;
  readonly durationMs: number | undefined;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  jump(toMs: number): void;
  setTemperature(sensor: string, celsius: number): void;
  releaseTemperature(sensor: string): void;
  /** For devices that measure humidity (the runner has them; a fake without them refuses humidity). */
  setHumidity?(sensor: string, percentRh: number): void;
  releaseHumidity?(sensor: string): void;
  injectFault(sensor: string, fault: SimFault, forMs?: number): void;
  clearFault(sensor: string): void;
  resetChip(sensor: string): void;
  sensorState(sensor: string): SimSensorState;
}

export interface SimulationControlOptions {
  driver: SimulationDriver;
  logger: Logger;
  /** The simulated world's clock: a change's `time` is its realtime (simulated wall-clock time). */
  clock: Clock;
  /** How much faster than real time the simulated clock runs (--time-scale); default 1. */
  timeScale?: number;
  /** The scenario file as given on the command line (--scenario), when there is one. */
  scenarioFile?: string;
  /** How many recent changes are kept (default {@link RECENT_CHANGES}). */
  maxChanges?: number;
}

/** Enough to see what happened over a test run, small enough for /gw/stats to stay a few KiB. */
export const RECENT_CHANGES = 32;

// Type aliases, not interfaces: they are plain data the CoAP front encodes as CBOR or JSON.
export type SimChange = {
  /** ISO 8601, from the simulated clock's realtime (what a device's timestamps say too). */
  time: string;
  scenarioMs: number;
  /** 'scenario', 'control' (a live command's timed end), or who sent the command: an address or oscore:<name>. */
  source: string;
  sensor: string | null;
  what: string;
};

export type SimSensorStatus = {
  /** The simulated device (drivers/sim/simulated-device.ts); absent from a driver that does not say. */
  device?: SimDeviceKind;
  /** Null for a device without temperature (registers, replay, none). */
  celsius: number | null;
  /** Only for a device that measures humidity (SHT3x). */
  humidity?: number;
  humidityOverride?: number | null;
  fault: SimFault | null;
  temperatureOverride: number | null;
  faultOverride: { fault: SimFault; untilScenarioMs: number | null } | null;
  resets: number;
};

export type SimScenarioStatus = {
  name: string;
  file: string | null;
  seed: number;
  timeMs: number;
  durationMs: number | null;
  paused: boolean;
  ended: boolean;
};

export type SimulationState = {
  timeScale: number;
  scenario: SimScenarioStatus | null;
  sensors: Record<string, SimSensorStatus>;
};

/** GET /gw/sim and /gw/stats `simulation`. */
export type SimulationSnapshot = SimulationState & { changes: SimChange[] };

/** The 2.04 answer to a command: what it changed and the state after it (without the ring: one datagram). */
export type SimulationCommandResult = SimulationState & { change: SimChange };

export class SimulationControl {
  readonly #driver: SimulationDriver;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #timeScale: number;
  readonly #scenarioFile: string | undefined;
  readonly #max: number;
  readonly #changes: SimChange[] = [];
  #ended = false;
  /**
   * The script's own events, one line per kind and sensor every 10 s of real time, with a count:
   * a random rule with 10 ms slots at x1000 makes 60,000 a second (found by review). Commands are
   * always logged, and every change still goes to the ring and to --exit-after-scenario's stdout.
   */
  readonly #scriptLines = new LogThrottle(() => performance.now()).flushEvery();
  /** Events the runner emits while a command is being applied (a jump landing): recorded after the command. */
  #during: SimEvent[] | undefined;

  constructor(options: SimulationControlOptions) {
    this.#driver = options.driver;
    this.#log = options.logger;
    this.#clock = options.clock;
    this.#timeScale = options.timeScale ?? 1;
    this.#scenarioFile = options.scenarioFile;
    this.#max = Math.max(1, options.maxChanges ?? RECENT_CHANGES);
    options.driver.ended.then(
      () => (this.#ended = true),
      () => {},
    );
  }

  /** The simulated sensors' names, as a command names them. */
  get sensors(): readonly string[] {
    return this.#driver.sensors;
  }

  /** Writes the script's events still held back (their count) and stops the throttle's timer. */
  close(): void {
    this.#scriptLines.close();
  }

  /** What GET /gw/sim answers and /gw/stats shows under `simulation`. */
  snapshot(): SimulationSnapshot {
    return { ...this.#state(), changes: [...this.#changes] };
  }

  /**
   * Applies one decoded command body (a CBOR map or JSON object) from `source` (a client
   * address or oscore:<name>) and returns what changed with the state after it. Throws
   * GatewayError GW_ERR_SIM_COMMAND_INVALID or GW_ERR_SIM_UNKNOWN_SENSOR, changing nothing.
   */
  command(body: unknown, source: string): SimulationCommandResult {
    const cmd = parseSimCommand(body, this.#driver.sensors);
    this.#during = [];
    let what: string;
    let events: SimEvent[];
    try {
      what = this.#apply(cmd);
    } finally {
      events = this.#during;
      this.#during = undefined;
    }
    const change = this.#record(source, 'sensor' in cmd ? cmd.sensor : undefined, what);
    // The runner reports what a command sets off (a jump landing on a reset), never the
    // command itself: that is the change just recorded, and what it set off follows it.
    for (const e of events) this.recordEvent(e);
    // Only the sensor the command named (none for pause, resume, jump): a 2.04 cannot be split
    // into blocks, and every sensor's state of a large gateway would not fit one datagram
    // (RFC 7252 section 4.6; found by review). GET /gw/sim has them all.
    return { ...this.#state('sensor' in cmd ? [cmd.sensor] : []), change };
  }

  /** A runner event (its onEvent): logged and kept like a command. */
  recordEvent(e: SimEvent): void {
    if (this.#during !== undefined) {
      this.#during.push(e);
      return;
    }
    this.#record(e.source, e.sensor, e.what, e.scenarioMs);
  }

  #apply(cmd: SimCommand): string {
    const d = this.#driver;
    switch (cmd.op) {
      case 'set':
        return this.#set(cmd.sensor, cmd.celsius, cmd.humidity);
      case 'release': {
        d.releaseTemperature(cmd.sensor);
        const humidity = this.#measuresHumidity(cmd.sensor);
        if (humidity) d.releaseHumidity!(cmd.sensor);
        return `${humidity ? 'temperature and humidity' : 'temperature'} released to the ${d.scenario ? 'scenario' : 'configured profile'}`;
      }
      case 'fault':
        d.injectFault(cmd.sensor, cmd.fault, cmd.forMs);
        return `fault ${cmd.fault} injected ${cmd.forMs === undefined ? 'until cleared' : `for ${formatDuration(cmd.forMs)}`}`;
      case 'clear':
        d.clearFault(cmd.sensor);
        return 'injected fault cleared';
      case 'reset':
        d.resetChip(cmd.sensor);
        return 'chip reset (power-on register values)';
      case 'pause':
        this.#needScenario('pause');
        d.pause();
        return `scenario paused at ${at(d.timeMs)}`;
      case 'resume':
        this.#needScenario('resume');
        d.resume();
        return `scenario resumed at ${at(d.timeMs)}`;
      case 'jump': {
        this.#needScenario('jump');
        const duration = d.durationMs;
        if (duration !== undefined && cmd.toMs > duration) {
          throw new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { detail: `to: must be at most ${formatDuration(duration)}, the scenario's duration` });
        }
        const from = d.timeMs;
        try {
          d.jump(cmd.toMs);
        } catch (err) {
          if (err instanceof RangeError) throw new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { detail: `to: ${err.message}` }, { cause: err });
          throw err;
        }
        return `scenario jumped from ${at(from)} to ${at(cmd.toMs)}`;
      }
    }
  }

  // Both checked before either is applied: a refused command changes nothing.
  #set(sensor: string, celsius: number | undefined, humidity: number | undefined): string {
    const d = this.#driver;
    const state = d.sensorState(sensor);
    if (celsius !== undefined && state.celsius === undefined) {
      throw new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { sensor, detail: `celsius: sensor ${JSON.stringify(sensor)} is a simulated ${state.device}, which has no temperature to set` });
    }
    if (humidity !== undefined && !this.#measuresHumidity(sensor)) {
      throw new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { sensor, detail: `humidity: sensor ${JSON.stringify(sensor)} is a simulated ${state.device ?? 'tmp102'}, which measures no humidity (an sht3x does)` });
    }
    const held: string[] = [];
    if (celsius !== undefined) {
      d.setTemperature(sensor, celsius);
      held.push(`temperature held at ${celsius} °C`);
    }
    if (humidity !== undefined) {
      d.setHumidity!(sensor, humidity);
      held.push(`humidity held at ${humidity} %RH`);
    }
    return held.join(', ');
  }

  #measuresHumidity(sensor: string): boolean {
    return this.#driver.setHumidity !== undefined && this.#driver.sensorState(sensor).humidity !== undefined;
  }

  /** Pause, resume and jump move a scenario's time; a gateway without one has none to move. */
  #needScenario(op: string): void {
    if (this.#driver.scenario === undefined) {
      throw new GatewayError('GW_ERR_SIM_COMMAND_INVALID', { detail: `op: "${op}" needs a scenario (the gateway was started without --scenario)` });
    }
  }

  #record(source: string, sensor: string | undefined, what: string, scenarioMs = this.#driver.timeMs): SimChange {
    const change: SimChange = { time: this.#now(), scenarioMs: Math.round(scenarioMs), source, sensor: sensor ?? null, what };
    this.#changes.push(change);
    if (this.#changes.length > this.#max) this.#changes.splice(0, this.#changes.length - this.#max);
    const fields = { source, ...(sensor !== undefined ? { sensor } : {}), what, scenarioTime: at(change.scenarioMs) };
    if (source === 'scenario') logThrottled(this.#scriptLines, this.#log, 'info', 'simulation changed', fields, { key: `${sensor ?? ''} ${what}`, countField: 'alsoSinceLastLine' });
    else this.#log.info('simulation changed', fields);
    return change;
  }

  #now(): string {
    return new Date(Number(this.#clock.realtimeNs() / 1_000_000n)).toISOString();
  }

  #state(only?: readonly string[]): SimulationState {
    const d = this.#driver;
    const sensors: Record<string, SimSensorStatus> = {};
    for (const name of only ?? d.sensors) sensors[name] = sensorStatus(d.sensorState(name));
    const s = d.scenario;
    const duration = d.durationMs;
    const scenario: SimScenarioStatus | null =
      s === undefined
        ? null
        : {
            name: s.name,
            file: this.#scenarioFile ?? null,
            seed: s.seed,
            timeMs: Math.round(d.timeMs),
            durationMs: duration ?? null,
            paused: d.paused,
            ended: this.#ended || (duration !== undefined && d.timeMs >= duration),
          };
    return { timeScale: this.#timeScale, scenario, sensors };
  }
}

function sensorStatus(s: SimSensorState): SimSensorStatus {
  return {
    ...(s.device === undefined ? {} : { device: s.device }),
    celsius: s.celsius ?? null,
    ...(s.humidity === undefined ? {} : { humidity: s.humidity, humidityOverride: s.humidityOverride ?? null }),
    fault: s.fault ?? null,
    temperatureOverride: s.temperatureOverride ?? null,
    faultOverride: s.faultOverride === undefined ? null : { fault: s.faultOverride.fault, untilScenarioMs: s.faultOverride.untilScenarioMs === undefined ? null : Math.round(s.faultOverride.untilScenarioMs) },
    resets: s.resets,
  };
}

function at(ms: number): string {
  return formatScenarioTime(ms);
}

/**
 * Scenario time for people, to a tenth of a second: 90000 -> "1m30s", 12561 -> "12.6s",
 * 600000 -> "10m". Changes keep the exact `scenarioMs` beside it.
 */
export function formatScenarioTime(ms: number): string {
  let tenths = Math.round(ms / 100);
  if (tenths <= 0) return '0s';
  const h = Math.floor(tenths / 36_000);
  tenths -= h * 36_000;
  const m = Math.floor(tenths / 600);
  const s = (tenths - m * 600) / 10;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
}
