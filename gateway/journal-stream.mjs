// Whether a file descriptor is connected to the systemd journal. systemd sets JOURNAL_STREAM to
// "<device>:<inode>" of the stream it connected stdout/stderr to (sd-daemon(3), systemd.exec(5));
// a child whose stderr was redirected elsewhere inherits the variable, so the numbers are
// compared with fstat of the descriptor rather than trusting the variable alone. Plain
// JavaScript: the launcher (gateway/cli/launch.mjs) uses it before any TypeScript is loaded, and
// gateway/log.ts for every line.
import { fstatSync } from 'node:fs';

export function isJournalStream(env, fd) {
  var value = env.JOURNAL_STREAM;
  if (!value || fd === undefined) return false;
  var m = /^(\d+):(\d+)$/.exec(value);
  if (!m) return false;
  try {
    var st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch (e) {
    return false;
  }
}

/** `<3>` (syslog error priority, sd-daemon(3)) when stderr is the journal, else ''. */
export function stderrErrorPrefix() {
  return isJournalStream(process.env, 2) ? '<3>' : '';
}
