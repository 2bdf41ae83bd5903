/**
 * The simulation options of `npm start` (docs/simulation.md): `--scenario <file>` with `--seed`,
 * `--time-scale N` and `--exit-after-scenario`. Each of them only makes sense on simulated
 * sensors, so each implies `--driver simulated` and is refused beside `--driver linux`: a
 * scenario never plays on a real chip, and real hardware never runs faster than real time.
 */
import { MAX_TIME_SCALE } from '../../drivers/clock.ts';
import { type OptionSpec, type ParsedArgs, UsageError, numberOption } from './args.ts';

export const SIMULATION_OPTIONS: Record<string, OptionSpec> = {
  scenario: { value: true },
  seed: { value: true },
  'time-scale': { value: true },
  'exit-after-scenario': {},
};

export interface SimulationOptions {
  /** The scenario file, as given. */
  scenario: string | undefined;
  /** Overrides the scenario file's seed. */
  seed: number | undefined;
  /** Simulated seconds per real second; 1 unless --time-scale. */
  timeScale: number;
  /** Stop when the scenario ends, and speak JSON lines on stdout (the port first). */
  exitAfterScenario: boolean;
  /** Any of the above given: the sensors must be simulated. */
  any: boolean;
}

export function simulationOptions(args: ParsedArgs): SimulationOptions {
  const scenario = args.options['scenario'] as string | undefined;
  const seed = numberOption(args, 'seed');
  const timeScale = numberOption(args, 'time-scale');
  const exitAfterScenario = args.options['exit-after-scenario'] === true;
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff)) throw new UsageError(`--seed must be an integer 0..4294967295, got ${seed}`);
  if (seed !== undefined && scenario === undefined) throw new UsageError('--seed chooses the random faults of a scenario: give --scenario <file> too');
  if (timeScale !== undefined && !(timeScale >= 1 && timeScale <= MAX_TIME_SCALE)) throw new UsageError(`--time-scale must be 1..${MAX_TIME_SCALE}, got ${timeScale}`);
  if (exitAfterScenario && scenario === undefined) throw new UsageError('--exit-after-scenario needs --scenario <file>');
  const any = scenario !== undefined || timeScale !== undefined;
  if (any && args.options['driver'] === 'linux') throw new UsageError('--scenario and --time-scale drive simulated sensors; they cannot be combined with --driver linux');
  return { scenario, seed, timeScale: timeScale ?? 1, exitAfterScenario, any };
}
