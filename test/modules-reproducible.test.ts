/**
 * The shipped modules (modules/*.wasm) are what their Go sources build, byte for byte:
 * `node wasm-src/build.mjs --check` (run by .ci/run as `npm run check:modules`) rebuilds them with
 * the toolchain modules/manifest.json pins. Here the check itself is shown to catch a shipped
 * binary that is not its source, on a copy of the tree.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hasGo = spawnSync('go', ['version']).status === 0;
const SKIP = hasGo || process.env['GW_GO_REQUIRED'] === '1' ? undefined : 'needs Go on the PATH to rebuild the modules';

describe('shipped modules', () => {
  it('are listed in modules/manifest.json with their size, sha256 and the pinned toolchain', () => {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'modules/manifest.json'), 'utf8')) as { toolchain: string; modules: Record<string, { bytes: number; sha256: string; source: string }> };
    assert.match(manifest.toolchain, /^go\d+\.\d+(\.\d+)?$/);
    const tmp102 = manifest.modules['tmp102.wasm']!;
    const bytes = readFileSync(path.join(ROOT, 'modules/tmp102.wasm'));
    assert.equal(tmp102.bytes, bytes.length);
    assert.equal(tmp102.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(tmp102.source, 'wasm-src/modules/tmp102');
  });
});

describe('build.mjs --check', { skip: SKIP }, () => {
  let tree: string;
  before(() => {
    tree = mkdtempSync(path.join(tmpdir(), 'gw-repro-'));
    cpSync(path.join(ROOT, 'wasm-src'), path.join(tree, 'wasm-src'), { recursive: true });
    cpSync(path.join(ROOT, 'modules'), path.join(tree, 'modules'), { recursive: true });
  });
  after(() => rmSync(tree, { recursive: true, force: true }));

  const check = () => spawnSync(process.execPath, [path.join(tree, 'wasm-src/build.mjs'), '--check'], { encoding: 'utf8', timeout: 300_000 });

  it('passes on the tree as committed', () => {
    const r = check();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /identical {2}modules\/tmp102\.wasm/);
  });

  it('fails when a shipped module is not what its source builds', () => {
    appendFileSync(path.join(tree, 'modules/tmp102.wasm'), Buffer.from([0]));
    const r = check();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /MISMATCH {3}modules\/tmp102\.wasm: differs/);
  });
});
