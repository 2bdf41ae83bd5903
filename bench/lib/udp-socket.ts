import { type Socket, createSocket } from 'node:dgram';

/**
 * A UDP socket bound to `address` on an ephemeral port: a client source address for load tools
 * (127.0.0.0/8 is all loopback on Linux, so each address is another client). Errors after the
 * bind (an ICMP port-unreachable on a later send) are not the server's doing and are ignored.
 */
export function bindUdp4(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, address, () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
  });
}
