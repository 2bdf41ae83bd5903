/**
 * Resident memory of another process, from /proc/<pid>/status (Linux): VmRSS now and VmHWM,
 * the kernel's own peak, so a spike between two samples is not missed.
 */
import { readFileSync } from 'node:fs';

export interface MemorySample {
  /** Seconds since sampling started. */
  t: number;
  rssMb: number;
}

export function memoryOf(pid: number): { rssMb: number; peakMb: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined; // gone
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class MemorySampler {
  readonly samples: MemorySample[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #t0 = performance.now();
  #peakMb = 0;

  constructor(pid: number, everyMs = 1000) {
    const take = () => {
      const m = memoryOf(pid);
      if (!m) return;
      this.#peakMb = Math.max(this.#peakMb, m.peakMb);
      this.samples.push({ t: Math.round((performance.now() - this.#t0) / 100) / 10, rssMb: round1(m.rssMb) });
    };
    take();
    this.#timer = setInterval(take, everyMs);
  }

  /** The highest VmHWM seen: the process's peak RSS over its whole life so far. */
  get peakMb(): number {
    return round1(this.#peakMb);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
