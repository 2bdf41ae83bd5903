/**
 * The process test/oscore-sequence-store.test.ts kills with SIGKILL: opens the PersistedSequence
 * at argv[2] (reserve argv[3]) and hands out numbers as fast as it can, printing each one to
 * stdout as soon as next() returned it. The write is synchronous (fs.writeSync on fd 1), so a
 * number is in the pipe before the next one is taken: whatever the parent read was handed out.
 * Every few numbers it yields to the event loop, so the background writes of the store land
 * too and both of its paths (background and synchronous) are under the kill.
 */
import { writeSync } from 'node:fs';
import { PersistedSequence } from '../../gateway/coap/oscore/sequence-store.ts';

const [file, reserveText] = process.argv.slice(2);
const sequence = await PersistedSequence.open(file!, { reserve: Number(reserveText) });
const BATCH = 16;

/** Node makes a stdout pipe non-blocking: when the parent lags, the pipe is full (EAGAIN) and the line is written again. A line this short is written whole or not at all (PIPE_BUF). */
function print(line: string): void {
  for (;;) {
    try {
      writeSync(1, line);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    }
  }
}

function burst(): void {
  for (let i = 0; i < BATCH; i++) print(`${sequence.next()}\n`);
  setImmediate(burst);
}
burst();
