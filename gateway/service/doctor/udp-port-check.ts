/**
 * Check 8: the CoAP port is free: a UDP socket bound where `npm start` would listen (default
 * every interface, [::]:5683 dual-stack) and closed again, with the gateway's own
 * bindCoapSocket (gateway/bind-socket.ts, through the environment's bindUdp), so the failure is
 * the one `npm start` would meet; either a GatewayError with the errno as its cause or a bare
 * errno exception (a test's fake binder) is understood here. A gateway already running
 * holds the port, so on a Pi with the service up this check fails, and says so.
 */
import { type ErrorCode, GatewayError } from '../../errors.ts';
import type { Check, CheckOutcome } from './check.ts';

const CODE_FOR_ERRNO: Record<string, ErrorCode> = {
  EADDRINUSE: 'GW_ERR_LISTEN_IN_USE',
  EADDRNOTAVAIL: 'GW_ERR_LISTEN_ADDRESS_UNAVAILABLE',
  EAFNOSUPPORT: 'GW_ERR_LISTEN_ADDRESS_UNAVAILABLE',
  EACCES: 'GW_ERR_LISTEN_PERMISSION',
  EPERM: 'GW_ERR_LISTEN_PERMISSION',
  ENOTFOUND: 'GW_ERR_LISTEN_HOST_UNKNOWN',
  EAI_AGAIN: 'GW_ERR_LISTEN_HOST_UNKNOWN',
};

export const udpPortCheck: Check = {
  id: 'udp-port',
  name: 'UDP port',
  needs: [],
  async run(ctx) {
    const { host, port } = ctx.target;
    const where = `udp ${host.includes(':') ? `[${host}]` : host}:${port}`;
    const data = { host, port };
    try {
      await ctx.env.bindUdp(host, port);
      return { status: 'ok', detail: `${where} is free (bound and released)`, data };
    } catch (err) {
      const errno = errnoOf(err);
      const code = err instanceof GatewayError ? err.code : errno ? CODE_FOR_ERRNO[errno] : undefined;
      const base: CheckOutcome = { status: 'fail', detail: '', ...(code ? { code } : {}), ...(errno ? { errno } : {}), data };
      switch (errno) {
        case 'EADDRINUSE':
          return {
            ...base,
            reason: 'in-use',
            detail: `${where} is in use by another socket [EADDRINUSE]`,
            fix: `see who holds it: ss -ulpn 'sport = :${port}' (a gateway already running? stop it first), or choose another --port`,
          };
        case 'EACCES':
        case 'EPERM':
          return {
            ...base,
            reason: 'privileged-port',
            detail: `${where}: binding refused [${errno}]${port < 1024 ? ': ports below 1024 need privilege' : ''}`,
            fix: 'use a port >= 1024 (the CoAP default 5683), or give node CAP_NET_BIND_SERVICE (AmbientCapabilities=CAP_NET_BIND_SERVICE in the service unit)',
          };
        case 'EAFNOSUPPORT':
          return { ...base, reason: 'no-address-family', detail: `${where}: this machine has no ${host.includes(':') ? 'IPv6' : 'IPv4'} stack [${errno}]`, fix: host.includes(':') ? 'IPv6 is disabled here: use --host 0.0.0.0 (every IPv4 interface)' : 'use --host :: (every interface)' };
        case 'EADDRNOTAVAIL':
          return { ...base, reason: 'not-local', detail: `${where}: ${host} is not an address of this machine [${errno}]`, fix: "ip -brief address lists this machine's addresses; --host :: listens on all of them" };
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          return { ...base, reason: 'unresolved', detail: `${where}: cannot resolve ${host} [${errno}]`, fix: 'give --host as an IP address (:: or 0.0.0.0 for every interface)' };
        default:
          return { ...base, reason: 'bind-failed', detail: `${where}: ${(err as Error).message}`, fix: 'choose another --host / --port' };
      }
    }
  },
};

function errnoOf(err: unknown): string | undefined {
  const direct = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof GatewayError) {
    const cause = (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (cause) return cause;
    // bindCoapSocket's resolve failure keeps the resolver's code in its cause too; without one, say what the code says.
    return err.code === 'GW_ERR_LISTEN_HOST_UNKNOWN' ? 'ENOTFOUND' : undefined;
  }
  return typeof direct === 'string' ? direct : undefined;
}
