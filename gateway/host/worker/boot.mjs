// Entry of every worker the gateway starts (module workers, bus threads). Workers do not get
// the loader hooks of their parent (Node 20: `--import tsx` in a worker's execArgv does not
// make the worker's own entry loadable either), so a worker whose real entry is TypeScript
// registers tsx's ESM hooks itself and then imports it. Plain JavaScript entries load as is.
// docs/threading.md, "Loading TypeScript in a worker".
import { workerData } from 'node:worker_threads';

const entry = workerData?.bootEntry;
if (typeof entry !== 'string') throw new Error('worker started without workerData.bootEntry');
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
