/**
 * OSCORE at start-up: the credentials file read and checked, and each security context's
 * sender sequence numbers restored from the state directory before the socket answers anything
 * (RFC 8613 section 7.5.1: a restart must never reuse a nonce). Any problem stops the start
 * with its code (GW_ERR_OSCORE_CREDENTIALS, GW_ERR_OSCORE_SEQUENCE_STORE): a gateway that
 * silently ran without the protection its configuration asks for would be worse.
 */
import { monotonicMs, type Clock } from '../../drivers/clock.ts';
import { GatewayError } from '../errors.ts';
import type { AccessConfig, OscoreConfig } from '../service/config.ts';
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

/**
 * Every `oscore:<name>` of the access policy names a client of the credentials file: a typo
 * would otherwise lock that client out with nothing but a 4.03 to show for it.
 */
export function checkPolicyNames(access: AccessConfig, clients: readonly string[] | undefined): void {
  for (const rule of access.rules) {
    rule.allow.forEach((entry, i) => {
      if (!entry.startsWith('oscore:')) return;
      const name = entry.slice('oscore:'.length);
      const field = `${rule.origin ?? 'access.rules'}.allow[${i}]`;
      if (clients === undefined) throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: names the OSCORE client "${name}", but the configuration has no "oscore" section` });
      if (!clients.includes(name)) throw new GatewayError('GW_ERR_CONFIG_INVALID', { detail: `${field}: no OSCORE client "${name}" in the credentials file (it has: ${clients.join(', ')})` });
    });
  }
}
