/**
 * Binding the HTTP view's TCP port, with the gateway's coded listen errors (docs/errors.md,
 * the same codes and fixes as the CoAP socket's, bind-socket.ts).
 */
import type { Server } from 'node:http';
import { GatewayError } from '../errors.ts';

export async function listen(server: Server, host: string, port: number): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    throw listenError(err as NodeJS.ErrnoException, host, port);
  }
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): GatewayError {
  const where = `tcp ${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new GatewayError('GW_ERR_LISTEN_IN_USE', { detail: `${where}: another process has it (see: ss -tlpn 'sport = :${port}'); stop it or change http.port` }, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new GatewayError('GW_ERR_LISTEN_PERMISSION', { detail: `${where}: ${err.code}${port < 1024 ? ': ports below 1024 need CAP_NET_BIND_SERVICE; use 8080' : ''}` }, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new GatewayError('GW_ERR_LISTEN_HOST_UNKNOWN', { detail: `http.host ${host}: ${err.code}` }, { cause: err });
    case 'EADDRNOTAVAIL':
      return new GatewayError('GW_ERR_LISTEN_ADDRESS_UNAVAILABLE', { detail: `${where}: no interface of this machine has that address (ip -brief address lists them); use one of them, 127.0.0.1, or :: for all` }, { cause: err });
    default:
      return new GatewayError('GW_ERR_LISTEN_ADDRESS_UNAVAILABLE', { detail: `${where}: ${err.code ?? err.message}` }, { cause: err });
  }
}
