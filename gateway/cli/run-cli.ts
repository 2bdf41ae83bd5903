/**
 * How every command-line tool of the gateway ends: its exit status, and how an error that
 * escaped `main` is shown. 2 for a usage error (with the usage text), the catalogue code for a
 * GatewayError (2 for an invalid configuration, 1 otherwise), 1 for anything else.
 */
import { GatewayError } from '../errors.ts';
import { UsageError } from './args.ts';

export function runCli(main: () => Promise<number>, usage: string): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${err.message}\n\n${usage}`);
        process.exitCode = 2;
      } else if (err instanceof GatewayError) {
        console.error(`error ${err.code}: ${err.message}`);
        process.exitCode = err.code === 'GW_ERR_CONFIG_INVALID' ? 2 : 1;
      } else {
        const e = err as NodeJS.ErrnoException;
        console.error(e?.code === 'EADDRINUSE' || e?.code === 'EACCES' ? `cannot listen: ${e.message}` : err);
        process.exitCode = 1;
      }
    },
  );
}
