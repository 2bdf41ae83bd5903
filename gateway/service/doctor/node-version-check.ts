/**
 * Check 1: the Node version. Under Node 18 a Go wasip1 module fails in its `random_get` path
 * (no `globalThis.crypto` by default) and the failure looks like the module's fault, so the
 * version is named first. The launcher refuses an old Node before loading anything; this check
 * also covers running the doctor under tsx.
 */
import { REQUIRED_NODE_MAJOR as MIN_NODE_MAJOR } from '../../node-version.mjs';
import type { Check } from './check.ts';

export const nodeVersionCheck: Check = {
  id: 'node-version',
  name: 'Node version',
  needs: [],
  run(ctx) {
    const found = ctx.env.nodeVersion.replace(/^v/, '');
    const major = Number(found.split('.')[0]);
    const data = { found, needed: `>=${MIN_NODE_MAJOR}` };
    if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) {
      return { status: 'ok', detail: `Node ${found} (needs >= ${MIN_NODE_MAJOR})`, data };
    }
    return {
      status: 'fail',
      code: 'GW_ERR_NODE_VERSION',
      reason: 'too-old',
      detail: `Node ${found} is too old: the gateway needs Node >= ${MIN_NODE_MAJOR}`,
      fix: `install Node ${MIN_NODE_MAJOR} or newer (Raspberry Pi OS trixie: sudo apt install nodejs gives 20.19; bookworm's nodejs is 18: use Node ${MIN_NODE_MAJOR}+ from nodejs.org or NodeSource)`,
      data,
    };
  },
};
