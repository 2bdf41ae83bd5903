/**
 * What live objects really cost: V8's heap plus memory outside it (ArrayBuffer bodies), after
 * full collections, so a byte budget's charge can be checked against it. `gc` is exposed at run
 * time (v8.setFlagsFromString), so no test needs node started with --expose-gc.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function used(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

/** Bytes per item that `fill` keeps alive: it builds `count` of them into what it returns. */
export function bytesPerItem(count: number, fill: () => unknown): number {
  const before = used();
  const kept = fill();
  const after = used();
  // Keeps `kept` alive through the measurement.
  if (kept === undefined) throw new Error('fill must return what it filled');
  return (after - before) / count;
}
