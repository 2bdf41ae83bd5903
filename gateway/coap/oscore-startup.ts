/**
 * OSCORE at start-up: the credentials file read and checked, and each security context's
 * sender sequence numbers restored from the state directory before the socket answers anything
 * (RFC 8613 section 7.5.1: a restart must never reuse a nonce). Any problem stops the start
 * with its code (GW_ERR_OSCORE_CREDENTIALS, GW_ERR_OSCORE_SEQUENCE_STORE): a gateway that
 * silently ran without the protection its configuration asks for would be worse.
 */
import { monotonicMs, type Clock } from '../../drivers/clock.ts';
import type { OscoreConfig } from '../service/config.ts';
import { loadOscoreCredentials } from '../service/oscore-credentials.ts';
import { OscoreServer } from './oscore/oscore-server.ts';

export async function openOscore(config: OscoreConfig, clock: Clock): Promise<OscoreServer> {
  const credentials = await loadOscoreCredentials(config.credentials);
  return OscoreServer.open({
    credentials,
    stateDir: config.stateDir,
    now: () => monotonicMs(clock),
    ...(config.sequenceReserve !== undefined ? { sequenceReserve: config.sequenceReserve } : {}),
  });
}
