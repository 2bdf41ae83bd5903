/**
 * Starting a gateway worker: every worker goes through boot.mjs, which makes its TypeScript
 * entry loadable whether the gateway runs under `tsx` or `node --import tsx` (neither passes
 * its hooks on to workers). The parent's execArgv is not inherited: the tsx flags in it do
 * not work in a worker and only slow its start, and test-runner flags are refused there.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

const BOOT = new URL('./boot.mjs', import.meta.url);

export function spawnWorker(entry: URL, data: Record<string, unknown>, options: { name: string; resourceLimits?: ResourceLimits }): Worker {
  return new Worker(BOOT, {
    workerData: { ...data, bootEntry: entry.href },
    execArgv: [],
    name: options.name,
    resourceLimits: options.resourceLimits,
  });
}
