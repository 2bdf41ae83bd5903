/**
 * Files checked before they are read (drivers/bounded-file.ts): a module, the configuration and
 * a trace that are /dev/zero (through a symlink), a directory, a FIFO, a file over the ceiling or
 * (a module) not WebAssembly are refused with a catalogue code within a second, reading next to
 * nothing; the module watcher survives a path that is briefly a FIFO and reloads after it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { BoundedFileError, readBoundedFile, readBoundedFileSync } from '../drivers/bounded-file.ts';
import { ManualClock, SystemClock } from '../drivers/clock.ts';
import { TRACE_FILE_MAX_BYTES, TraceFileError, loadTraceProfile } from '../drivers/sim/temperature-trace.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MODULE_FILE_MAX_BYTES, readModuleBytes } from '../gateway/host/module-file.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { CONFIG_FILE_MAX_BYTES, defaultConfig, loadConfigFile } from '../gateway/service/config.ts';
import { profileFromConfig } from '../gateway/service/hardware.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { wasmPath } from './helpers/chain.ts';

const MiB = 2 ** 20;

function scratch(): string {
  return mkdtempSync(path.join(tmpdir(), 'gw-bounded-'));
}

/** The special and oversized files every reader must refuse; a sparse file costs no disk. */
function hostileFiles(dir: string, ceiling: number): Record<'dev-zero-symlink' | 'directory' | 'fifo' | 'oversized', string> {
  const files = {
    'dev-zero-symlink': path.join(dir, 'zero'),
    directory: path.join(dir, 'dir'),
    fifo: path.join(dir, 'fifo'),
    oversized: path.join(dir, 'big'),
  };
  symlinkSync('/dev/zero', files['dev-zero-symlink']);
  mkdirSync(files.directory);
  execFileSync('mkfifo', [files.fifo]);
  sparse(files.oversized, ceiling + 1);
  return files;
}

function sparse(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  ftruncateSync(fd, bytes);
  closeSync(fd);
}

/**
 * Runs an attempt that must fail, and how much time and resident memory it took. A regression
 * (readFile of /dev/zero, of a FIFO) costs gigabytes or never returns; the test's own timeout
 * turns the second into a failure rather than a hang.
 */
async function refused(attempt: () => unknown): Promise<{ err: unknown; ms: number; rssGrowthMb: number }> {
  const rss = process.memoryUsage().rss;
  const start = performance.now();
  let err: unknown;
  try {
    await attempt();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - start;
  assert.ok(err !== undefined, 'the attempt was refused');
  return { err, ms, rssGrowthMb: (process.memoryUsage().rss - rss) / MiB };
}

function assertCheap(r: { ms: number; rssGrowthMb: number }, what: string): void {
  assert.ok(r.ms < 1000, `${what}: refused in ${r.ms.toFixed(0)} ms`);
  assert.ok(r.rssGrowthMb < 20, `${what}: RSS grew ${r.rssGrowthMb.toFixed(1)} MB`);
}

const PER_TEST = { timeout: 20_000 };

describe('bounded file reads', () => {
  it('reads a regular file, also through a symlink', PER_TEST, async () => {
    const dir = scratch();
    const file = path.join(dir, 'a');
    writeFileSync(file, 'hello');
    symlinkSync(file, path.join(dir, 'link'));
    assert.equal((await readBoundedFile(path.join(dir, 'link'), { maxBytes: 5 })).toString(), 'hello');
    assert.equal(readBoundedFileSync(path.join(dir, 'link'), { maxBytes: 5 }).toString(), 'hello');
  });

  it('refuses what is not a regular file, and what is over the ceiling, with its problem', PER_TEST, async () => {
    const files = hostileFiles(scratch(), 1024);
    const expected = { 'dev-zero-symlink': 'not-regular', directory: 'not-regular', fifo: 'not-regular', oversized: 'too-large' } as const;
    for (const [what, file] of Object.entries(files) as Array<[keyof typeof expected, string]>) {
      const r = await refused(() => readBoundedFile(file, { maxBytes: 1024 }));
      assert.ok(r.err instanceof BoundedFileError, what);
      assert.equal(r.err.problem, expected[what], what);
      assertCheap(r, what);
      assert.throws(() => readBoundedFileSync(file, { maxBytes: 1024 }), { name: 'BoundedFileError', problem: expected[what] }, what);
    }
    await assert.rejects(readBoundedFile(path.join(scratch(), 'missing'), { maxBytes: 1 }), { problem: 'unreadable', errno: 'ENOENT' });
  });

  it('reads no more than ceiling + 1 bytes of a file longer than fstat says (procfs reports size 0)', PER_TEST, async () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    assert.ok(status.length > 200);
    await assert.rejects(readBoundedFile('/proc/self/status', { maxBytes: 100 }), { problem: 'too-large' });
    assert.throws(() => readBoundedFileSync('/proc/self/status', { maxBytes: 100 }), { problem: 'too-large' });
    assert.match((await readBoundedFile('/proc/self/status', { maxBytes: MiB })).toString(), /^Name:/);
  });

  it('a head check sees the first bytes only, and its error reaches the caller unchanged', PER_TEST, async () => {
    const file = path.join(scratch(), 'zeros');
    sparse(file, 15 * MiB);
    const seen: number[] = [];
    const refusal = new Error('bad head');
    await assert.rejects(
      readBoundedFile(file, { maxBytes: 16 * MiB, head: { bytes: 8, check: (head) => { seen.push(head.length); throw refusal; } } }),
      (err) => err === refusal,
    );
    assert.deepEqual(seen, [8]);
  });
});

describe('module files', () => {
  it('refuses /dev/zero through a symlink, a directory and a FIFO (GW_ERR_MODULE_NOT_FOUND), an oversized file (GW_ERR_MODULE_INVALID), cheaply', PER_TEST, async () => {
    const files = hostileFiles(scratch(), MODULE_FILE_MAX_BYTES);
    const expected = { 'dev-zero-symlink': 'GW_ERR_MODULE_NOT_FOUND', directory: 'GW_ERR_MODULE_NOT_FOUND', fifo: 'GW_ERR_MODULE_NOT_FOUND', oversized: 'GW_ERR_MODULE_INVALID' } as const;
    for (const [what, file] of Object.entries(files) as Array<[keyof typeof expected, string]>) {
      const r = await refused(() => readModuleBytes(file, 'tmp102'));
      assert.ok(r.err instanceof GatewayError, what);
      assert.equal(r.err.code, expected[what], what);
      assert.ok(r.err.cause instanceof BoundedFileError, what);
      assertCheap(r, what);
    }
  });

  it('checks the WebAssembly magic and version from the first 8 bytes, before reading the rest', PER_TEST, async () => {
    const dir = scratch();
    const zeros = path.join(dir, 'zeros.wasm');
    sparse(zeros, MODULE_FILE_MAX_BYTES - 1); // within the ceiling: only the header refuses it
    const r = await refused(() => readModuleBytes(zeros, 'tmp102'));
    assert.equal((r.err as GatewayError).code, 'GW_ERR_MODULE_INVALID');
    assertCheap(r, 'a 16 MiB file without the magic');

    const component = path.join(dir, 'component.wasm');
    writeFileSync(component, new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]));
    await assert.rejects(readModuleBytes(component, 'tmp102'), { code: 'GW_ERR_MODULE_INVALID' });
    const short = path.join(dir, 'short.wasm');
    writeFileSync(short, new Uint8Array([0x00, 0x61, 0x73]));
    await assert.rejects(readModuleBytes(short, 'tmp102'), { code: 'GW_ERR_MODULE_INVALID' });
    const shipped = readFileSync(wasmPath('tmp102'));
    assert.deepEqual(await readModuleBytes(wasmPath('tmp102'), 'tmp102'), new Uint8Array(shipped));
  });

  it('start-up with a module path that is a FIFO or a symlink to /dev/zero fails at once', PER_TEST, async () => {
    const files = hostileFiles(scratch(), MODULE_FILE_MAX_BYTES);
    for (const what of ['fifo', 'dev-zero-symlink'] as const) {
      const config = defaultConfig({ driver: 'simulated', module: files[what] });
      const r = await refused(() => SensorService.start(config, { clock: new ManualClock(), logger: new MemoryLogger(), isolation: 'in-thread' }));
      assert.equal((r.err as GatewayError).code, 'GW_ERR_MODULE_NOT_FOUND', what);
      assertCheap(r, what);
    }
  });
});

describe('configuration files', () => {
  it('refuses /dev/zero (directly and through a symlink), a directory, a FIFO and an oversized file: GW_ERR_CONFIG_INVALID for (file)', PER_TEST, async () => {
    const files = { ...hostileFiles(scratch(), CONFIG_FILE_MAX_BYTES), 'dev-zero': '/dev/zero' };
    for (const [what, file] of Object.entries(files)) {
      const r = await refused(() => loadConfigFile(file));
      assert.ok(r.err instanceof GatewayError, what);
      assert.equal(r.err.code, 'GW_ERR_CONFIG_INVALID', what);
      assert.match(r.err.details.detail ?? '', /^\(file\): /, what);
      assert.ok(r.err.cause instanceof BoundedFileError, what);
      assert.equal(r.err.cause.problem, what === 'oversized' ? 'too-large' : 'not-regular', what);
      assertCheap(r, what);
    }
  });

  it('a configuration file at the ceiling is still read', PER_TEST, async () => {
    const file = path.join(scratch(), 'gateway.json');
    const json = JSON.stringify({ sensors: [{ name: 't' }] });
    writeFileSync(file, json.padEnd(CONFIG_FILE_MAX_BYTES, ' '));
    assert.equal((await loadConfigFile(file)).sensors[0]!.name, 't');
  });
});

describe('trace files', () => {
  it('refuses /dev/zero through a symlink, a directory, a FIFO and an oversized file: GW_ERR_SIM_TRACE_FILE', PER_TEST, async () => {
    const files = hostileFiles(scratch(), TRACE_FILE_MAX_BYTES);
    for (const [what, file] of Object.entries(files)) {
      const r = await refused(() => loadTraceProfile(file));
      assert.ok(r.err instanceof TraceFileError, what);
      assert.equal(r.err.code, 'GW_ERR_SIM_TRACE_FILE', what);
      assert.equal(r.err.problem, what === 'oversized' ? 'too-large' : 'not-regular', what);
      assertCheap(r, what);
    }
  });

  it('at start-up a refused trace is GW_ERR_CONFIG_INVALID naming the field', PER_TEST, () => {
    assert.throws(() => profileFromConfig({ kind: 'trace', file: '/dev/zero' }, 'sensors[0].simulation'), (err) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
      assert.match(err.details.detail ?? '', /^sensors\[0\]\.simulation\.file: /);
      assert.equal((err.cause as TraceFileError).problem, 'not-regular');
      return true;
    });
  });
});

describe('docs/configuration.md', () => {
  it('gives the ceiling of each file the gateway reads', () => {
    const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Files the gateway reads'));
    const ceilings = Object.fromEntries([...section.matchAll(/^\| `([^`]+)`[^|]* \| (\d+) MiB\b/gm)].map((m) => [m[1], Number(m[2]) * MiB]));
    assert.deepEqual(ceilings, { 'sensors[].module': MODULE_FILE_MAX_BYTES, '--config': CONFIG_FILE_MAX_BYTES, 'simulation.file': TRACE_FILE_MAX_BYTES });
  });
});

describe('the module watcher and a path that is briefly a FIFO', () => {
  it('refuses the FIFO without hanging (nor does a SIGHUP reload), then reloads when a regular file is back', { timeout: 30_000 }, async () => {
    const dir = scratch();
    const file = path.join(dir, 'tmp102.wasm');
    copyFileSync(wasmPath('tmp102'), file);
    const logger = new MemoryLogger();
    const service = await SensorService.start(defaultConfig({ driver: 'simulated', simCelsius: 19.5, module: file }), { clock: new SystemClock(), logger, isolation: 'worker' });
    // The gateway's socket keeps its process alive; here a timer does (the clock's are unref'd).
    const keepAlive = setInterval(() => {}, 1000);
    const stop = service.watchModuleFiles();
    try {
      execFileSync('mkfifo', [`${file}.fifo`]);
      renameSync(`${file}.fifo`, file);
      const refusedLogged = () => logger.entries.some((e) => e.msg.startsWith('module file refused') && e.fields['code'] === 'GW_ERR_MODULE_NOT_FOUND');
      await until(refusedLogged, 'the watcher refused the FIFO');
      // What SIGHUP does: a reload of the FIFO is refused at once (it used to block for good,
      // and every later reload of the sensor waited on it).
      const start = performance.now();
      const sighup = await service.reload('tmp102');
      assert.deepEqual([sighup.ok, !sighup.ok && sighup.code], [false, 'GW_ERR_MODULE_NOT_FOUND']);
      assert.ok(performance.now() - start < 1000);

      const body = new TextEncoder().encode('\x07gw.testafter-fifo');
      const next = new Uint8Array([...readFileSync(wasmPath('tmp102')), 0x00, body.length, ...body]);
      writeFileSync(`${file}.new`, next);
      renameSync(`${file}.new`, file);
      await until(() => service.stats().reloads === 1, 'the watcher reloaded the regular file');
      assert.equal(service.get('tmp102')!.moduleSha256, createHash('sha256').update(next).digest('hex'));
      assert.equal((await service.readFresh('tmp102')).reading.value, 19.5);
    } finally {
      stop();
      clearInterval(keepAlive);
      await service.close();
    }
  });

  it('never reads an oversized module file; a later valid one reloads', { timeout: 30_000 }, async () => {
    const dir = scratch();
    const file = path.join(dir, 'tmp102.wasm');
    copyFileSync(wasmPath('tmp102'), file);
    const logger = new MemoryLogger();
    const service = await SensorService.start(defaultConfig({ driver: 'simulated', module: file }), { clock: new SystemClock(), logger, isolation: 'worker' });
    const keepAlive = setInterval(() => {}, 1000);
    const stop = service.watchModuleFiles();
    try {
      // A valid header, then a sparse 300 MiB: refused by its size, never read.
      const fd = openSync(`${file}.big`, 'w');
      writeSync(fd, new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
      ftruncateSync(fd, 300 * MiB);
      closeSync(fd);
      const rss = process.memoryUsage().rss;
      renameSync(`${file}.big`, file);
      await until(() => logger.entries.some((e) => e.msg.startsWith('module file refused') && e.fields['code'] === 'GW_ERR_MODULE_INVALID'), 'the watcher refused the oversized file');
      assert.ok((process.memoryUsage().rss - rss) / MiB < 20, 'not read');
      assert.equal(logger.entries.filter((e) => e.msg.startsWith('module file refused')).length, 1, 'logged once');
      const body = new TextEncoder().encode('\x07gw.testafter-big');
      writeFileSync(`${file}.new`, new Uint8Array([...readFileSync(wasmPath('tmp102')), 0x00, body.length, ...body]));
      renameSync(`${file}.new`, file);
      await until(() => service.stats().reloads === 1, 'the watcher reloaded the regular file');
    } finally {
      stop();
      clearInterval(keepAlive);
      await service.close();
    }
  });
});

describe('a module path that is a symlink', () => {
  it('loads through the link, and the watcher reloads when the link is replaced', { timeout: 30_000 }, async () => {
    const dir = scratch();
    copyFileSync(wasmPath('tmp102'), path.join(dir, 'tmp102-1.wasm'));
    const body = new TextEncoder().encode('\x07gw.testv2');
    const v2 = new Uint8Array([...readFileSync(wasmPath('tmp102')), 0x00, body.length, ...body]);
    writeFileSync(path.join(dir, 'tmp102-2.wasm'), v2);
    const link = path.join(dir, 'current.wasm');
    symlinkSync('tmp102-1.wasm', link);
    const service = await SensorService.start(defaultConfig({ driver: 'simulated', module: link }), { clock: new SystemClock(), logger: new MemoryLogger(), isolation: 'worker' });
    const keepAlive = setInterval(() => {}, 1000);
    const stop = service.watchModuleFiles();
    try {
      symlinkSync('tmp102-2.wasm', path.join(dir, 'next'));
      renameSync(path.join(dir, 'next'), link);
      await until(() => service.stats().reloads === 1, 'the watcher reloaded through the new link');
      assert.equal(service.get('tmp102')!.moduleSha256, createHash('sha256').update(v2).digest('hex'));
    } finally {
      stop();
      clearInterval(keepAlive);
      await service.close();
    }
  });
});

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
