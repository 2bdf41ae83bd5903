/**
 * One kind of run measured over interleaved rounds (bench/oscore-cost.ts, bench/uplink-cost.ts):
 * the rounds as run, and their medians, which the ratios between kinds are taken of.
 */
import { type LoadResult, describeRequest } from './loadgen.ts';
import { median } from './median.ts';

export interface RoundsSummary {
  request: string;
  rounds: LoadResult[];
  rpsByRound: number[];
  /** Medians over the rounds. */
  rps: number;
  p50us: number;
  p99us: number;
  errors: number;
  timeouts: number;
  peakRssMbByRound: number[];
}

export function summarizeRounds(rounds: LoadResult[], peakRssMbByRound: number[]): RoundsSummary {
  return {
    request: describeRequest(rounds[0]!),
    rounds,
    rpsByRound: rounds.map((r) => Math.round(r.rps)),
    rps: Math.round(median(rounds.map((r) => r.rps))),
    p50us: Math.round(median(rounds.map((r) => r.latency_us.p50))),
    p99us: Math.round(median(rounds.map((r) => r.latency_us.p99))),
    errors: rounds.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
    timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
    peakRssMbByRound,
  };
}

/** One run as the progress log shows it: rate, latency, errors, timeouts. */
export function roundLine(r: LoadResult): string {
  const errors = Object.entries(r.errors).filter(([, n]) => n > 0);
  return `[${describeRequest(r)}]: ${Math.round(r.rps)} req/s, p50 ${(r.latency_us.p50 / 1000).toFixed(2)} ms, p99 ${(r.latency_us.p99 / 1000).toFixed(2)} ms, errors ${errors.length ? JSON.stringify(Object.fromEntries(errors)) : 0}, timeouts ${r.timeouts}`;
}

/** Median rps of `a` over `b`, and the same within each round (rounds run side by side). */
export function rpsRatios(a: RoundsSummary, b: RoundsSummary): { ratio: number; byRound: number[] } {
  return { ratio: round2(a.rps / b.rps), byRound: a.rounds.map((r, i) => round2(r.rps / b.rounds[i]!.rps)) };
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
