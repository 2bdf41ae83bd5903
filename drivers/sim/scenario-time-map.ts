/**
 * Scenario time as a function of clock time (monotonic ms), between two live commands: either
 * running (scenario = anchorScenario + (clock - anchorClock), stopping at the duration) or
 * standing still (not started, paused). A command (start, pause, resume, jump) replaces the
 * mapping from that instant on; the runner touches every chip first, so the time before the
 * command has already been replayed with the old mapping and none of it is reinterpreted.
 */
export class ScenarioTimeMap {
  readonly #durationMs: number;
  #anchorClockMs = 0;
  #anchorScenarioMs = 0;
  #running = false;
  #version = 0;

  /** `durationMs`: Infinity without a scenario (time runs on, nothing ends). */
  constructor(durationMs: number) {
    this.#durationMs = durationMs;
  }

  /** Changes with every set(): a value computed under an older mapping is stale. */
  get version(): number {
    return this.#version;
  }

  get running(): boolean {
    return this.#running;
  }

  /** From `clockMs` on, scenario time stands at `scenarioMs` (running false) or runs on from it. */
  set(clockMs: number, scenarioMs: number, running: boolean): void {
    this.#anchorClockMs = clockMs;
    this.#anchorScenarioMs = scenarioMs;
    this.#running = running;
    this.#version++;
  }

  /** Scenario time at `clockMs`, not past the duration. */
  scenarioAt(clockMs: number): number {
    return Math.min(this.#durationMs, this.#unclamped(clockMs));
  }

  /** Whether scenario time is moving at `clockMs` and has not yet passed the duration (it may equal it). */
  runningAt(clockMs: number): boolean {
    return this.#running && this.#unclamped(clockMs) <= this.#durationMs;
  }

  /**
   * The first clock instant at which scenario time reaches `scenarioMs`, or undefined if it
   * never will under this mapping. Nudged up by a float step when rounding would leave
   * scenarioAt(result) just below `scenarioMs`, so a change found in scenario time is seen as
   * having happened at the instant it is applied.
   */
  clockAt(scenarioMs: number): number | undefined {
    if (!this.#running || scenarioMs > this.#durationMs) return undefined;
    if (scenarioMs <= this.#anchorScenarioMs) return this.#anchorClockMs;
    let t = this.#anchorClockMs + (scenarioMs - this.#anchorScenarioMs);
    for (let i = 0; i < 8 && this.#unclamped(t) < scenarioMs; i++) t += Math.max(Number.MIN_VALUE, Math.abs(t) * Number.EPSILON);
    return t;
  }

  #unclamped(clockMs: number): number {
    return this.#running ? this.#anchorScenarioMs + (clockMs - this.#anchorClockMs) : this.#anchorScenarioMs;
  }
}
