/**
 * Whether this machine can bind a UDP socket to `address`: 127.0.0.2 and the rest of 127/8 on
 * Linux, which tests use to be a second client address on loopback.
 */
import { createSocket } from 'node:dgram';

export async function canBind(address: string): Promise<boolean> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    socket.close();
  }
}
