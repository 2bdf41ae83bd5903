/**
 * A sensor's live feed for observers: while anyone subscribes, the sensor is read once per
 * conversion period (through the PacedReader, so a feed and ordinary requests share one bus
 * read) and every outcome is published. An ALERT edge (`trigger`) reads at once, ahead of the
 * period. With no subscribers nothing is scheduled: an unobserved sensor costs no bus traffic.
 */
import { type Clock, monotonicMs } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import { LogThrottle, logThrottled } from '../log-throttle.ts';
import type { Logger } from '../log.ts';
import type { FreshReading, PacedReader } from './paced-reader.ts';
import type { SensorReading } from './sensor-reading.ts';

export type UpdateCause = 'period' | 'alert' | 'subscribe';

export type SensorUpdate =
  | { sensor: string; cause: UpdateCause; ok: true; reading: FreshReading<SensorReading> }
  | { sensor: string; cause: UpdateCause; ok: false; error: GatewayError };

export type UpdateListener = (update: SensorUpdate) => void;

/** If the module never announced a period (it never initialised), retry at this pace. */
const FALLBACK_PERIOD_MS = 1000;

export class SensorFeed {
  readonly #sensor: string;
  readonly #paced: PacedReader<SensorReading>;
  readonly #clock: Clock;
  readonly #periodMs: () => number | undefined;
  readonly #log: Logger;
  readonly #logThrottle: LogThrottle;
  readonly #listeners = new Set<UpdateListener>();
  #cancelTimer: (() => void) | undefined;
  #reading = false;
  #pendingCause: UpdateCause | undefined;

  constructor(sensor: string, paced: PacedReader<SensorReading>, options: { clock: Clock; periodMs: () => number | undefined; logger: Logger }) {
    this.#sensor = sensor;
    this.#paced = paced;
    this.#clock = options.clock;
    this.#periodMs = options.periodMs;
    this.#log = options.logger;
    // Held-back counts are written within two intervals even when no listener fails again.
    this.#logThrottle = new LogThrottle(() => monotonicMs(options.clock)).flushEvery();
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  subscribe(listener: UpdateListener): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#poll('subscribe');
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** An ALERT edge: the temperature crossed a limit; read now, whatever the pacing says. */
  trigger(cause: UpdateCause = 'alert'): void {
    this.#paced.invalidate();
    if (this.#listeners.size > 0) this.#poll(cause);
  }

  close(): void {
    this.#listeners.clear();
    this.#stop();
    this.#logThrottle.close();
  }

  #stop(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#pendingCause = undefined;
  }

  #poll(cause: UpdateCause): void {
    if (this.#reading) {
      // A read is in flight; an alert arriving now must still get its own fresh read after it.
      if (cause === 'alert') this.#pendingCause = cause;
      return;
    }
    this.#stop();
    this.#reading = true;
    this.#paced.read().then(
      (reading) => this.#done({ sensor: this.#sensor, cause, ok: true, reading }, reading.freshForMs),
      (err: unknown) => {
        const error = err instanceof GatewayError ? err : new GatewayError('GW_ERR_INTERNAL', { sensor: this.#sensor }, { cause: err });
        this.#done({ sensor: this.#sensor, cause, ok: false, error }, error.details.retryAfterMs);
      },
    );
  }

  #done(update: SensorUpdate, nextInMs: number | undefined): void {
    this.#reading = false;
    if (this.#listeners.size === 0) return;
    for (const listener of [...this.#listeners]) {
      try {
        listener(update);
      } catch (err) {
        // One per listener and update, and updates come every period for as long as the fault lasts.
        logThrottled(this.#logThrottle, this.#log, 'error', 'feed listener failed', { sensor: this.#sensor, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    if (this.#listeners.size === 0) return;
    if (this.#pendingCause) {
      const pending = this.#pendingCause;
      this.#pendingCause = undefined;
      this.#paced.invalidate();
      this.#poll(pending);
      return;
    }
    const period = this.#periodMs() ?? FALLBACK_PERIOD_MS;
    // Read again when the value stops being the sensor's latest; +1 ms so the reader's
    // freshness window has surely closed.
    const delay = Math.max(1, Math.min(period, nextInMs ?? period) + 1);
    this.#cancelTimer = this.#clock.schedule(delay, () => this.#poll('period'));
  }
}
