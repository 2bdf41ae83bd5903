/**
 * Hot reload at the service level: the new module is loaded beside the old one and switched in
 * after its first good reading; failures roll back; observers (feed subscribers) are kept; the
 * configured sha256 is checked every time; a changed file is picked up by the watcher.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { ManualClock, SystemClock, type Clock } from '../drivers/clock.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import type { ModuleHandle } from '../gateway/host/module-handle.ts';
import { DEFAULT_MODULE_LIMITS } from '../gateway/host/worker/module-limits.ts';
import type { LoadedModule } from '../gateway/service/module-factory.ts';
import { RELOAD_TIMEOUT_MS, reloadModule, reloadTimeoutMs } from '../gateway/service/module-reload.ts';
import { wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';
import { simulatedTmp102 } from '../gateway/service/hardware.ts';

/** A copy of the TMP102 module in a scratch directory, so tests can replace it. */
function scratchModule(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-reload-'));
  const file = path.join(dir, 'tmp102.wasm');
  copyFileSync(wasmPath('tmp102'), file);
  return file;
}

/** The same module with a custom section appended: valid, equivalent, and a different sha256. */
function withCustomSection(file: string, tag: string): Uint8Array {
  const name = new TextEncoder().encode('gw.test');
  const data = new TextEncoder().encode(tag);
  const body = [name.length, ...name, ...data];
  return new Uint8Array([...readFileSync(file), 0x00, body.length, ...body]);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Replace a file the safe way (write beside, then rename), as an operator would. */
function replace(file: string, bytes: Uint8Array): void {
  writeFileSync(file + '.new', bytes);
  renameSync(file + '.new', file);
}

async function start(module: string, clock: Clock = new ManualClock(), sha?: string) {
  const logger = new MemoryLogger();
  const config = defaultConfig({ driver: 'simulated', simCelsius: 19.5, module });
  if (sha) config.sensors[0]!.sha256 = sha;
  // Deterministic on a ManualClock in-thread; the watcher test runs on the SystemClock with workers.
  const service = await SensorService.start(config, { clock, logger, isolation: clock instanceof ManualClock ? 'in-thread' : 'worker' });
  return { service, logger, clock };
}

/**
 * Awaits `p` while moving the ManualClock on: a reload reads the file (real I/O) before it
 * waits on the clock, so time must keep moving until it settles.
 */
async function whileAdvancing<T>(clock: ManualClock, p: Promise<T>): Promise<T> {
  let settled = false;
  void p.finally(() => (settled = true)).catch(() => {});
  const deadline = Date.now() + 10_000;
  while (!settled && Date.now() < deadline) {
    clock.advanceMs(5);
    await new Promise((r) => setTimeout(r, 1));
  }
  return p;
}

async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5) {
    clock.advanceMs(5);
    await new Promise((r) => setImmediate(r));
  }
}

describe('hot reload', () => {
  it('switches to the new module after its first reading and keeps 100 subscribers', async () => {
    const file = scratchModule();
    const clock = new ManualClock();
    const { service } = await start(file, clock);
    const counts = new Array(100).fill(0);
    counts.forEach((_, i) => service.subscribe('tmp102', (u) => u.ok && counts[i]++));
    await advance(clock, 600);
    const before = service.get('tmp102')!.module;
    replace(file, withCustomSection(file, 'v2'));
    // The new module waits out its 35 ms first conversion on the clock.
    const result = await whileAdvancing(clock, service.reload('tmp102'));
    assert.equal(result.ok, true);
    assert.notEqual(service.get('tmp102')!.module, before, 'the module was replaced');
    assert.equal(service.get('tmp102')!.moduleSha256, sha256(readFileSync(file)));
    const mid = [...counts];
    await advance(clock, 600);
    assert.equal(service.stats().sensors['tmp102']!.observers, 100, 'no subscriber lost');
    assert.ok(counts.every((c, i) => c > mid[i]!), 'every subscriber keeps getting updates');
    assert.equal((await service.readFresh('tmp102')).reading.value, 19.5);
    assert.equal(service.stats().reloads, 1);
    service.close();
  });

  it('rolls back a new module that fails its first reading, logging why', { skip: TEST_MODULES_SKIP }, async () => {
    const file = scratchModule();
    const clock = new ManualClock();
    const { service, logger } = await start(file, clock);
    await advance(clock, 40);
    const before = service.get('tmp102')!.module;
    replace(file, readFileSync(wasmPath('test/trap')));
    const result = await whileAdvancing(clock, service.reload('tmp102'));
    assert.deepEqual([result.ok, !result.ok && result.code], [false, 'GW_ERR_MODULE_TRAP']);
    assert.equal(service.get('tmp102')!.module, before, 'the old module still runs');
    assert.equal((await service.readFresh('tmp102')).reading.value, 19.5);
    assert.ok(logger.entries.some((e) => e.msg.startsWith('module reload rolled back') && e.fields['code'] === 'GW_ERR_MODULE_TRAP'));
    service.close();
  });

  it('after a rollback the running module sets the chip up again (the failed one had shut it down)', { skip: TEST_MODULES_SKIP }, async () => {
    const file = scratchModule();
    const clock = new ManualClock();
    const { service } = await start(file, clock);
    const chip = simulatedTmp102(service.hardware, 'tmp102');
    await advance(clock, 300);
    replace(file, readFileSync(wasmPath('test/shutdown')));
    const result = await whileAdvancing(clock, service.reload('tmp102'));
    assert.equal(result.ok, false);
    chip.setTemperature(31.5);
    await advance(clock, 600);
    assert.equal((await service.readFresh('tmp102')).reading.value, 31.5, 'the chip converts again: not frozen at the old value');
    service.close();
  });

  it('rolls back a file that is not a module, and a module with the wrong ABI', { skip: TEST_MODULES_SKIP }, async () => {
    const file = scratchModule();
    const { service } = await start(file);
    replace(file, new TextEncoder().encode('not wasm'));
    assert.equal(((await service.reload('tmp102')) as { code: string }).code, 'GW_ERR_MODULE_INVALID');
    replace(file, readFileSync(wasmPath('test/wrongabi')));
    assert.equal(((await service.reload('tmp102')) as { code: string }).code, 'GW_ERR_MODULE_ABI_VERSION');
    service.close();
  });

  it('checks the configured sha256 at start-up and on every reload', async () => {
    const file = scratchModule();
    const good = sha256(readFileSync(file));
    await assert.rejects(start(file, new ManualClock(), '0'.repeat(64)), { code: 'GW_ERR_MODULE_CHECKSUM' });
    const clock = new ManualClock();
    const { service } = await start(file, clock, good);
    const v2 = withCustomSection(file, 'v2');
    replace(file, v2);
    assert.equal(((await service.reload('tmp102')) as { code: string }).code, 'GW_ERR_MODULE_CHECKSUM', 'a changed file no longer matches');
    const result = await whileAdvancing(clock, service.reload('tmp102', { sha256: sha256(v2) }));
    assert.equal(result.ok, true, 'with the new checksum it loads');
    replace(file, withCustomSection(file, 'v3'));
    const unpinned = await whileAdvancing(clock, service.reload('tmp102', { sha256: null }));
    assert.equal(unpinned.ok, true, 'with the checksum removed (a configuration without sha256) any valid module loads');
    assert.equal(service.get('tmp102')!.config.sha256, undefined);
    service.close();
  });

  it('reloads under load fail no request: reads in flight finish on the old module (workers, real time)', async () => {
    const file = scratchModule();
    const logger = new MemoryLogger();
    const config = defaultConfig({ driver: 'simulated', simCelsius: 19.5, module: file });
    // One-shot at 8 Hz: each read spends about 26 ms inside the module, so reloads land mid-read.
    config.sensors[0]!.settings = { mode: 'oneshot', rateHz: 8 };
    const service = await SensorService.start(config, { clock: new SystemClock(), logger, isolation: 'worker' });
    // The gateway's socket keeps its process alive; here a timer does (the clock's are unref'd).
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await new Promise((r) => setTimeout(r, 60));
      let stop = false;
      const failures: string[] = [];
      let reads = 0;
      const reader = (async () => {
        while (!stop) {
          service.get('tmp102')!.paced.invalidate(); // every request goes to the module
          await new Promise((r) => setImmediate(r)); // a real client: never a tight loop
          try {
            await service.readFresh('tmp102');
            reads++;
          } catch (err) {
            const code = (err as { code?: string }).code ?? String(err);
            if (code !== 'GW_ERR_SENSOR_NOT_READY') failures.push(code);
          }
        }
      })();
      try {
        for (let i = 0; i < 5; i++) {
          await new Promise((r) => setTimeout(r, 100)); // reads go on between reloads too
          replace(file, withCustomSection(file, `load-${i}`));
          const result = await service.reload('tmp102');
          assert.equal(result.ok, true, JSON.stringify(result));
        }
      } finally {
        stop = true;
        await reader;
      }
      assert.deepEqual(failures, [], 'no request failed because of a reload');
      assert.ok(reads >= 10, `${reads} reads during the reloads`);
    } finally {
      clearInterval(keepAlive);
      await service.close();
    }
  });

  it('the watcher reloads when the file content changes', async () => {
    const file = scratchModule();
    const { service } = await start(file, new SystemClock());
    const stop = service.watchModuleFiles();
    try {
      const next = withCustomSection(file, 'watched');
      replace(file, next);
      const deadline = Date.now() + 10_000;
      // The reload is counted when it has finished (the old module closed), a moment after the
      // new module starts serving: wait for the count, then check what runs.
      while (service.stats().reloads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(service.stats().reloads, 1);
      assert.equal(service.get('tmp102')!.moduleSha256, sha256(next));
    } finally {
      stop();
      await service.close();
    }
  });
});

/** A module handle that only counts its closes; `start` says how its start goes. */
function fakeModule(start: () => Promise<never>): { handle: ModuleHandle; closes: () => number } {
  let closes = 0;
  const handle = {
    name: 'fake',
    info: undefined,
    start,
    read: () => Promise.reject(new Error('not started')),
    reconfigure: () => Promise.reject(new Error('not started')),
    drain: async () => {},
    close: async () => {
      closes++;
    },
  } as unknown as ModuleHandle;
  return { handle, closes: () => closes };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('hot reload: bounded in time', () => {
  it('30 s, or what the sensor\'s own limits let its steps take', () => {
    assert.equal(RELOAD_TIMEOUT_MS, 30_000);
    assert.equal(reloadTimeoutMs(DEFAULT_MODULE_LIMITS), RELOAD_TIMEOUT_MS, 'the default limits need 21 s at most');
    assert.equal(reloadTimeoutMs({ deadlineMs: 60_000, bootTimeoutMs: 120_000 }), 305_000);
  });

  it('a read of the file that never returns: rolled back with GW_ERR_SENSOR_TIMEOUT, the next reload runs, the late module is closed', async () => {
    const file = scratchModule();
    const clock = new ManualClock();
    const { service, logger } = await start(file, clock);
    await advance(clock, 40);
    const entry = service.get('tmp102')!;
    const before = entry.module;
    const options = { clock, logger, hardware: service.hardware, isolation: 'in-thread' as const, timeoutMs: 200 };
    let finishLoad!: (loaded: LoadedModule) => void;
    const t0 = performance.now();
    const result = await reloadModule(entry, { ...options, load: () => new Promise<LoadedModule>((resolve) => (finishLoad = resolve)) });
    const ms = performance.now() - t0;
    assert.deepEqual([result.ok, !result.ok && result.code], [false, 'GW_ERR_SENSOR_TIMEOUT']);
    assert.ok(ms < 5000, `gave up after ${ms.toFixed(0)} ms`);
    assert.ok(logger.entries.some((e) => e.msg.startsWith('module reload rolled back') && e.fields['code'] === 'GW_ERR_SENSOR_TIMEOUT'));
    assert.equal(entry.module, before, 'the running module stays');
    assert.equal(entry.deviceHeld, undefined);
    assert.equal((await whileAdvancing(clock, service.readFresh('tmp102'))).reading.value, 19.5);

    // Not joined to the abandoned attempt: a new reload runs, and switches.
    replace(file, withCustomSection(file, 'v2'));
    const again = await whileAdvancing(clock, reloadModule(entry, options));
    assert.equal(again.ok, true, JSON.stringify(again));
    const current = entry.module;
    assert.notEqual(current, before);

    // The hung read returns at last: what it loaded is closed, never switched in.
    const late = fakeModule(() => Promise.reject(new Error('must not be started')));
    finishLoad({ handle: late.handle, sha256: 'f'.repeat(64) });
    await settle();
    assert.equal(late.closes(), 1);
    assert.equal(entry.module, current);
    await service.close();
  });

  it('a new module whose start never settles: closed at the limit, the device freed, the running module serving', async () => {
    const file = scratchModule();
    const clock = new ManualClock();
    const { service, logger } = await start(file, clock);
    await advance(clock, 40);
    const entry = service.get('tmp102')!;
    const before = entry.module;
    const hung = fakeModule(() => new Promise<never>(() => {}));
    const result = await whileAdvancing(clock, reloadModule(entry, {
      clock, logger, hardware: service.hardware, isolation: 'in-thread', timeoutMs: 200,
      load: async () => ({ handle: hung.handle, sha256: 'e'.repeat(64) }),
    }));
    assert.deepEqual([result.ok, !result.ok && result.code], [false, 'GW_ERR_SENSOR_TIMEOUT']);
    assert.equal(hung.closes() >= 1, true, 'closing it is what stops a start in flight');
    assert.equal(entry.module, before);
    assert.equal(entry.deviceHeld, undefined, 'reads no longer wait for the device');
    simulatedTmp102(service.hardware, 'tmp102').setTemperature(24.5);
    await advance(clock, 600);
    assert.equal((await whileAdvancing(clock, service.readFresh('tmp102'))).reading.value, 24.5);
    await service.close();
  });
});
