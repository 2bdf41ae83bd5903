/**
 * How every command-line tool of the gateway ends: its exit status, and how an error that
 * escaped `main` is shown. 2 for a usage error (with the usage text), the catalogue code for a
 * GatewayError (2 for an invalid configuration, 1 otherwise), 1 for anything else. Under
 * journald the error line carries the error priority (sd-daemon(3)), so `journalctl -p warning`
 * shows why a service stopped.
 */
import { GatewayError } from '../errors.ts';
import { journalPrefix } from '../log.ts';
import { UsageError } from './args.ts';

export function runCli(main: () => Promise<number>, usage: string): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${journalPrefix('error')}${err.message}\n\n${usage}`);
        process.exitCode = 2;
      } else if (err instanceof GatewayError) {
        console.error(`${journalPrefix('error')}error ${err.code}: ${err.message}`);
        // An invalid configuration or credentials file: retrying cannot fix it (the unit's RestartPreventExitStatus=2).
        process.exitCode = err.code === 'GW_ERR_CONFIG_INVALID' || err.code === 'GW_ERR_OSCORE_CREDENTIALS' || err.code === 'GW_ERR_SCENARIO_INVALID' ? 2 : 1;
      } else {
        // A bug, not an operator's mistake: the stack is what a report needs.
        console.error(`${journalPrefix('error')}${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exitCode = 1;
      }
    },
  );
}
