/**
 * The gateway's UDP socket, bound before anything else starts: `npm start` binds it before the
 * sensor modules load, so a taken port or a wrong --host is reported at once, as one coded
 * line with the fix, not after "sensor ready" and not as a Node stack trace.
 *
 * A host name is resolved first (dns.lookup, as the resolver of the system would), so that a
 * name with only an IPv6 address gets an IPv6 socket. Dual stack: '::' binds an IPv6 socket with
 * IPV6_V6ONLY off, so IPv4 peers reach it too (RFC 3493 section 5.3).
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GatewayError } from './errors.ts';

export async function bindCoapSocket(host: string, port: number): Promise<Socket> {
  let address = host;
  let family = isIP(host);
  if (family === 0) {
    try {
      ({ address, family } = await lookup(host));
    } catch (err) {
      throw new GatewayError('GW_ERR_LISTEN_HOST_UNKNOWN', { detail: `--host ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }, { cause: err });
    }
  }
  const socket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: false });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    socket.close();
    throw listenError(err as NodeJS.ErrnoException, host, port);
  }
  return socket;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): GatewayError {
  const where = `udp ${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new GatewayError('GW_ERR_LISTEN_IN_USE', { detail: `${where}: another process has it (see: ss -ulpn 'sport = :${port}'); stop it or use --port` }, { cause: err });
    case 'EADDRNOTAVAIL':
      return new GatewayError('GW_ERR_LISTEN_ADDRESS_UNAVAILABLE', { detail: `${where}: no interface of this machine has that address (ip -brief address lists them); use one of them, or :: for all` }, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new GatewayError('GW_ERR_LISTEN_PERMISSION', { detail: `${where}: ${err.code}${port < 1024 ? ': ports below 1024 need CAP_NET_BIND_SERVICE; the CoAP port is 5683' : ''}` }, { cause: err });
    case 'EAFNOSUPPORT':
      return new GatewayError('GW_ERR_LISTEN_ADDRESS_UNAVAILABLE', { detail: `${where}: this machine has no ${host.includes(':') ? 'IPv6' : 'IPv4'} stack; use --host 0.0.0.0 or --host ::` }, { cause: err });
    default:
      return new GatewayError('GW_ERR_LISTEN_ADDRESS_UNAVAILABLE', { detail: `${where}: ${err.code ?? err.message}` }, { cause: err });
  }
}
