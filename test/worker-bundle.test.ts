/**
 * Workers load bundled JavaScript, not TypeScript through a loader of their own
 * (gateway/host/worker/spawn.ts, docs/threading.md). A bundle removed while the gateway runs
 * (build/ cleaned, or pruned by a process running newer sources) is written again before the
 * next worker starts from it.
 */
import assert from 'node:assert/strict';
import { readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BUNDLE_DIR } from '../gateway/bundle-file.mjs';
import { workerBundlingFailure } from '../gateway/host/worker/spawn.ts';
import { closeWorkerChains, openWorkerChain } from './helpers/worker-chain.ts';

const moduleWorkerBundles = () => readdirSync(BUNDLE_DIR).filter((f) => /^module-worker\.[0-9a-f]{12}\.mjs$/.test(f));

describe('worker bundles', () => {
  after(closeWorkerChains);

  it('a module worker starts from a bundle, and from a rewritten one after the file was removed', async () => {
    const first = await openWorkerChain();
    await first.module.start();
    assert.equal(workerBundlingFailure(), undefined);
    const bundles = moduleWorkerBundles();
    assert.ok(bundles.length >= 1, 'a module-worker bundle in build/bundles');
    for (const f of bundles) unlinkSync(path.join(BUNDLE_DIR, f));

    const second = await openWorkerChain();
    const info = await second.module.start();
    assert.equal(info.name, 'tmp102');
    second.clock.advanceMs(40);
    assert.equal((await second.module.read()).value, 21.5);
    assert.equal(moduleWorkerBundles().length, 1, 'written again');
    assert.equal(workerBundlingFailure(), undefined, 'no fall-back to tsx');
  });
});
