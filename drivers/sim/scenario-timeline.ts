/**
 * A scenario's temperature timeline for one sensor: segments, each starting `atMs` after the
 * scenario started and holding until the next one starts. A pure function of scenario time.
 *
 *   constant  the temperature is `celsius` (a step, when it follows another segment)
 *   ramp      linear from the value the timeline had when the segment starts (or `from`) to
 *             `to` over `overMs`, then holds `to`
 *   sine      mean + amplitude * sin(2π (t - atMs + phaseMs) / periodMs)
 *   trace     a recorded trace (temperature-trace.ts) played from the segment start, skipping
 *             its first `offsetMs`; it holds its last value once played through
 */
import { formatDuration } from './duration.ts';
import type { TemperatureProfile } from './temperature-profile.ts';

export type TemperatureSegment =
  | { kind: 'constant'; atMs: number; celsius: number }
  | { kind: 'ramp'; atMs: number; to: number; overMs: number; from?: number }
  | { kind: 'sine'; atMs: number; mean: number; amplitude: number; periodMs: number; phaseMs?: number }
  | { kind: 'trace'; atMs: number; profile: TemperatureProfile; lengthMs: number; offsetMs?: number; name?: string };

export class TemperatureTimeline {
  readonly #segments: readonly TemperatureSegment[];
  /** The value each segment starts from: a ramp's origin. */
  readonly #startValues: number[] = [];

  constructor(segments: readonly TemperatureSegment[]) {
    if (segments.length === 0) throw new RangeError('a temperature timeline needs at least one segment');
    segments.forEach((s, i) => checkSegment(s, i, segments[i - 1]));
    this.#segments = segments.map((s) => ({ ...s }));
    for (let i = 0; i < this.#segments.length; i++) {
      const s = this.#segments[i]!;
      const inherited = i === 0 ? undefined : this.#valueIn(i - 1, s.atMs);
      const start = s.kind === 'ramp' ? (s.from ?? inherited) : inherited;
      if (start === undefined && s.kind === 'ramp') throw new RangeError('segment 0: a ramp that starts the timeline needs "from"');
      this.#startValues.push(start ?? this.#valueIn(i, s.atMs));
    }
  }

  get segments(): readonly TemperatureSegment[] {
    return this.#segments;
  }

  /** The temperature at scenario time `tMs` (before 0: the value at 0). */
  celsiusAt(tMs: number): number {
    const t = Math.max(0, tMs);
    return this.#valueIn(this.indexAt(t), t);
  }

  /** The index of the segment in effect at `tMs`: the last one starting at or before it. */
  indexAt(tMs: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#segments[mid]!.atMs <= tMs) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The first segment start in (afterMs, untilMs], or undefined. */
  nextStartAfter(afterMs: number, untilMs = Infinity): number | undefined {
    const next = this.#segments[this.indexAt(afterMs) + 1];
    if (afterMs < 0) return 0 <= untilMs ? 0 : undefined;
    return next !== undefined && next.atMs <= untilMs ? next.atMs : undefined;
  }

  /** When the last segment stops changing by itself: its start, a ramp's end, a trace's last sample. */
  get endMs(): number {
    let end = 0;
    for (const s of this.#segments) {
      end = Math.max(end, s.atMs);
      if (s.kind === 'ramp') end = Math.max(end, s.atMs + s.overMs);
      if (s.kind === 'trace') end = Math.max(end, s.atMs + s.lengthMs - (s.offsetMs ?? 0));
    }
    return end;
  }

  /** One line for logs and events: "temperature 21.5 -> 35 °C over 10m". */
  describe(index: number): string {
    const s = this.#segments[index];
    if (!s) throw new RangeError(`no segment ${index}`);
    const from = round(this.#startValues[index]!);
    switch (s.kind) {
      case 'constant':
        return index === 0 ? `temperature ${s.celsius} °C` : `temperature ${from} -> ${s.celsius} °C`;
      case 'ramp':
        return `temperature ${from} -> ${s.to} °C over ${formatDuration(s.overMs)}`;
      case 'sine':
        return `temperature sine ${s.mean} ± ${s.amplitude} °C, period ${formatDuration(s.periodMs)}`;
      case 'trace':
        return `temperature ${s.profile.description}${s.offsetMs ? ` from ${formatDuration(s.offsetMs)}` : ''}`;
    }
  }

  #valueIn(index: number, tMs: number): number {
    const s = this.#segments[index]!;
    const dt = tMs - s.atMs;
    switch (s.kind) {
      case 'constant':
        return s.celsius;
      case 'ramp': {
        const from = this.#startValues[index] ?? s.from!;
        return from + (s.to - from) * Math.min(1, Math.max(0, dt / s.overMs));
      }
      case 'sine':
        return s.mean + s.amplitude * Math.sin((2 * Math.PI * (dt + (s.phaseMs ?? 0))) / s.periodMs);
      case 'trace':
        return s.profile.celsiusAt(dt + (s.offsetMs ?? 0));
    }
  }
}

function round(celsius: number): number {
  return Math.round(celsius * 1000) / 1000;
}

function checkSegment(s: TemperatureSegment, i: number, previous: TemperatureSegment | undefined): void {
  const finite = (v: number | undefined, what: string): void => {
    if (v !== undefined && !Number.isFinite(v)) throw new RangeError(`segment ${i}: ${what} must be a finite number, got ${v}`);
  };
  finite(s.atMs, 'atMs');
  if (i === 0 && s.atMs !== 0) throw new RangeError(`segment 0 must start at 0, not ${s.atMs} ms: the timeline needs a value from the start`);
  if (previous && !(s.atMs > previous.atMs)) throw new RangeError(`segment ${i}: segments must start at strictly increasing times`);
  switch (s.kind) {
    case 'constant':
      finite(s.celsius, 'celsius');
      return;
    case 'ramp':
      finite(s.to, 'to');
      finite(s.from, 'from');
      if (!(s.overMs > 0) || !Number.isFinite(s.overMs)) throw new RangeError(`segment ${i}: overMs must be > 0`);
      return;
    case 'sine':
      finite(s.mean, 'mean');
      finite(s.amplitude, 'amplitude');
      finite(s.phaseMs, 'phaseMs');
      if (!(s.amplitude >= 0)) throw new RangeError(`segment ${i}: amplitude must be >= 0`);
      if (!(s.periodMs > 0) || !Number.isFinite(s.periodMs)) throw new RangeError(`segment ${i}: periodMs must be > 0`);
      return;
    case 'trace':
      finite(s.lengthMs, 'lengthMs');
      finite(s.offsetMs, 'offsetMs');
      if ((s.offsetMs ?? 0) < 0) throw new RangeError(`segment ${i}: offsetMs must be >= 0`);
      return;
    default:
      throw new RangeError(`segment ${i}: unknown kind ${JSON.stringify((s as { kind: unknown }).kind)}`);
  }
}
