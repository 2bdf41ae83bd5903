/**
 * A module behaves the same whichever compiler built it, and what a module says about a
 * failure reaches the operator (issue 14, parts 5 and 4).
 *
 * TinyGo 0.41.1, measured outside this machine (no registry here serves TinyGo), differed from
 * Go in two ways: its panic report goes to fd 1, where the host did not look, and the trap
 * fixture's out-of-bounds load was optimised away. test/panicstdout reproduces the first under
 * standard Go (a banner on fd 1, written a byte at a time, then `unreachable`); the trap
 * fixture now takes its address from the host and uses the value it loads (its source says
 * why). The WASI tests below feed fd_write the byte streams each runtime writes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { GuestMemory } from '../gateway/host/guest-memory.ts';
import { MAX_LOG_LINES_PER_CALL } from '../gateway/host/log-budget.ts';
import { WasiPreview1 } from '../gateway/host/wasi-preview1.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { openHardware } from '../gateway/service/hardware.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { makeChain, thrown, wasmPath, TEST_MODULES_SKIP } from './helpers/chain.ts';

const ERRNO_SUCCESS = 0;

/** The GatewayError `fn` throws. */
function refusal(fn: () => unknown): GatewayError {
  const err = thrown(fn);
  assert.ok(err instanceof GatewayError, String(err));
  return err;
}

/** A WASI instance over a fresh memory, in a call, with fd_write taking JS strings. */
function wasiCall(pages = 32) {
  const memory = new WebAssembly.Memory({ initial: pages });
  const logger = new MemoryLogger();
  const wasi = new WasiPreview1({ clock: new ManualClock(), logger, sleepBudgetMs: 1000 });
  wasi.bindMemory(new GuestMemory(memory));
  wasi.beginCall();
  const fdWrite = (wasi.imports() as unknown as Record<string, (...a: number[]) => number>)['fd_write']!;
  /** Writes `text` to `fd` in one fd_write (one iovec at offset 1024). */
  const write = (fd: number, text: string) => {
    const bytes = new TextEncoder().encode(text);
    new Uint8Array(memory.buffer).set(bytes, 1024);
    const iov = new DataView(memory.buffer, 0, 8);
    iov.setUint32(0, 1024, true);
    iov.setUint32(4, bytes.length, true);
    assert.equal(fdWrite(fd, 0, 1, 16), ERRNO_SUCCESS);
  };
  return { wasi, logger, write };
}

describe('TinyGo parity: a panic banner counts on fd 1 as on fd 2', () => {
  it("TinyGo's panic(), written a byte at a time to stdout, is a panic", () => {
    const { wasi, write } = wasiCall();
    write(1, 'reading the sensor\n');
    for (const ch of 'panic: sensor exploded\n') write(1, ch);
    assert.equal(wasi.sawPanic, true);
    assert.equal(wasi.panicReport, 'panic: sensor exploded');
  });

  it("TinyGo's runtime errors (runtimePanicAt, with and without the address) are panics", () => {
    for (const banner of ['panic: runtime error: index out of range', 'panic: runtime error at 0x0000abcd: nil pointer dereference']) {
      const { wasi, write } = wasiCall();
      write(1, `${banner}\n`);
      assert.equal(wasi.panicReport, banner);
    }
  });

  it("Go's banners on fd 2 still count, and stderr is preferred when both streams have one", () => {
    for (const banner of ['panic: sensor exploded', 'fatal error: out of memory']) {
      const { wasi, write } = wasiCall();
      write(1, 'panic: from stdout\n');
      write(2, `${banner}\n\ngoroutine 1 [running]:\n`);
      assert.equal(wasi.panicReport, banner);
    }
  });

  it('only the banners the runtimes print count: not "fatal error:" on fd 1, not a banner mid-line, not other fds', () => {
    const { wasi, write } = wasiCall();
    write(1, 'fatal error: not a runtime of ours\n');
    write(1, 'sensor says: no panic: all fine\n');
    write(2, 'warning: panic: is only a word here\n');
    assert.equal(wasi.sawPanic, false);
    assert.equal(wasi.panicReport, undefined);
  });

  it('a banner after 1 MiB of stdout is still seen, and the log stays within its per-call budget', () => {
    const { wasi, logger, write } = wasiCall();
    write(1, `${'.'.repeat(99)}\n`.repeat(10_486));
    write(1, 'panic: late\n');
    assert.equal(wasi.panicReport, 'panic: late');
    assert.ok(logger.entries.length <= MAX_LOG_LINES_PER_CALL + 1, `${logger.entries.length} log entries`);
  });

  it('a banner-like text in the middle of a long line is not a panic, however the window falls', () => {
    for (const pad of [3000, 2048, 2049, 2047]) {
      const { wasi, write } = wasiCall();
      write(1, 'x'.repeat(pad));
      write(1, 'panic: mid-line\n');
      assert.equal(wasi.sawPanic, false, `pad ${pad}`);
    }
    // …and the same text at the start of a line after a long output is one.
    const { wasi, write } = wasiCall();
    write(1, `${'x'.repeat(2047)}\n`);
    write(1, 'panic: at a line start\n');
    assert.equal(wasi.panicReport, 'panic: at a line start');
  });

  it('the next call starts with nothing seen', () => {
    const { wasi, write } = wasiCall();
    write(1, 'panic: once\n');
    wasi.endCall();
    wasi.beginCall();
    assert.equal(wasi.sawPanic, false);
  });
});

describe('TinyGo parity: the same faults from Go-built modules', { skip: TEST_MODULES_SKIP }, () => {
  for (const [module, stream] of [['test/panic', 'stderr'], ['test/panicstdout', 'stdout']] as const) {
    it(`${module} (banner on ${stream}) -> GW_ERR_MODULE_PANIC with the banner, and a fresh instance next call`, async () => {
      const { sensor, logger } = await makeChain({ module });
      const err = thrown(() => sensor.read());
      assert.equal(err.code, 'GW_ERR_MODULE_PANIC');
      assert.match(String(err.details?.['detail']), /^gw_read: panic: sensor exploded/);
      assert.ok(logger.entries.some((e) => e.msg === 'panic: sensor exploded' && e.fields['stream'] === stream), 'the banner is logged');
      assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_PANIC');
      assert.equal(sensor.stats.instancesCreated, 2);
    });
  }

  it('test/panicstdout with 8 KiB of output before the banner is still a panic', async () => {
    const { sensor } = await makeChain({ module: 'test/panicstdout', settings: { before: 8192 } });
    assert.equal(thrown(() => sensor.read()).code, 'GW_ERR_MODULE_PANIC');
  });

  it('test/trap traps: GW_ERR_MODULE_TRAP, an out-of-bounds access, not a panic or a bad output', async () => {
    const { sensor } = await makeChain({ module: 'test/trap' });
    const err = thrown(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_MODULE_TRAP');
    assert.match(String(err.details?.['detail']), /RuntimeError: memory access out of bounds/);
  });
});

/** The module's failure output, through test/reportfail (its source lists the settings). */
async function reportFail(settings: Record<string, unknown>) {
  const chain = await makeChain({ module: 'test/reportfail', settings, grant: { bus: 1, addresses: [0x48, 0x49] } });
  const err = refusal(() => chain.sensor.read());
  return { ...chain, err };
}

describe("what a module says reaches the log: its detail beside the driver's message", { skip: TEST_MODULES_SKIP }, () => {
  it("an I2C failure keeps the driver's code and message, and carries the module's detail", async () => {
    const { sensor, bus, clock } = await makeChain();
    clock.advanceMs(250);
    assert.equal(sensor.read().value, 21.5);
    bus.detach(0x48);
    const err = refusal(() => sensor.read());
    assert.equal(err.code, 'GW_ERR_I2C_NACK');
    assert.ok(err.cause instanceof I2CError);
    assert.equal(err.details.detail, 'reading the temperature register failed: I2C_NACK');
    assert.ok(err.message.startsWith(err.cause.message), 'the driver message leads');
    assert.ok(err.message.includes('reading the temperature register failed'), err.message);
  });

  it('the start-up line of a sensor that NACKs has both', async () => {
    const logger = new MemoryLogger();
    const config = defaultConfig({ driver: 'simulated' });
    const service = await SensorService.start(config, {
      clock: new ManualClock(),
      logger,
      isolation: 'in-thread',
      // The simulated chip is unplugged before the module first speaks to it.
      openHardware: (c, clock, options) => {
        const hardware = openHardware(c, clock, options);
        (hardware.buses.get(1) as SimulatedI2CBus).detach(0x48);
        return hardware;
      },
    });
    try {
      const line = logger.entries.find((e) => e.msg === 'sensor not answering at start-up; will retry on read');
      assert.ok(line, 'the sensor is reported, and the gateway started');
      assert.equal(line.fields['code'], 'GW_ERR_I2C_NACK');
      const detail = String(line.fields['detail']);
      assert.ok(detail.includes('0x48'), `the driver's message: ${detail}`);
      assert.ok(detail.includes('(module: reading the configuration register failed: I2C_NACK)'), `the module's detail: ${detail}`);
    } finally {
      await service.close();
    }
  });

  it('a denied transfer keeps the host\'s reason and adds the module\'s detail', async () => {
    const { err } = await reportFail({ status: -5, probe: 0x50, detail: 'probing the other chip' });
    assert.equal(err.code, 'GW_ERR_CAPABILITY_DENIED');
    assert.match(String(err.details.detail), /0x50.*\(module: probing the other chip\)/);
  });
});

describe('a failure\'s "code": a sensor state the module names is honoured, anything else ignored', { skip: TEST_MODULES_SKIP }, () => {
  it('GW_ERR_SENSOR_NOT_READY after a NACK (an SHT3x still measuring): not ready, with the hint and both texts', async () => {
    const { err } = await reportFail({ status: -2, probe: 0x49, code: 'GW_ERR_SENSOR_NOT_READY', retryAfterMs: 50, detail: 'measurement in progress' });
    assert.equal(err.code, 'GW_ERR_SENSOR_NOT_READY');
    assert.equal(err.details.retryAfterMs, 50);
    assert.match(String(err.details.detail), /^measurement in progress; driver: .*0x49/);
    assert.ok(err.cause instanceof I2CError);
  });

  it('GW_ERR_SENSOR_WRONG_DEVICE replaces an INTERNAL status', async () => {
    const { err, logger } = await reportFail({ status: -11, code: 'GW_ERR_SENSOR_WRONG_DEVICE', detail: 'id register reads 0x11' });
    assert.equal(err.code, 'GW_ERR_SENSOR_WRONG_DEVICE');
    assert.equal(err.details.detail, 'id register reads 0x11');
    assert.equal(logger.entries.filter((e) => e.msg.startsWith('module failure code ignored')).length, 0);
  });

  for (const [code, reason] of [
    ['GW_ERR_I2C_PERMISSION', /only the gateway reports/],
    ['GW_ERR_SENSOR_QUARANTINED', /only the gateway reports/],
    ['GW_ERR_MODULE_TRAP', /only the gateway reports/],
    ['GW_ERR_REQUEST_BAD_PARAMETER', /only the gateway reports/],
    ['ERR_MADE_UP', /not a code of the error catalogue/],
    [42, /not a text string/],
  ] as const) {
    it(`${JSON.stringify(code)} is ignored with a debug line; the status decides`, async () => {
      const { err, logger } = await reportFail({ status: -11, code, detail: 'gave up' });
      assert.equal(err.code, 'GW_ERR_MODULE_INTERNAL');
      assert.equal(err.details.detail, 'gave up');
      const line = logger.entries.find((e) => e.msg === 'module failure code ignored; the status decides');
      assert.ok(line, 'a debug line says so');
      assert.equal(line.level, 'debug');
      assert.equal(line.fields['code'], String(code));
      assert.match(String(line.fields['reason']), reason);
    });
  }

  it('the status restated by name, as wasm-src/gwabi writes it ("internal"), is no news: no line', async () => {
    const { err, logger } = await reportFail({ status: -11, code: 'internal' });
    assert.equal(err.code, 'GW_ERR_MODULE_INTERNAL');
    assert.equal(logger.entries.filter((e) => e.msg.startsWith('module failure code ignored')).length, 0);
  });

  it('facts the host saw win over the module\'s code: a denied transfer stays denied', async () => {
    const { err } = await reportFail({ status: -5, probe: 0x50, code: 'GW_ERR_SENSOR_NOT_READY' });
    assert.equal(err.code, 'GW_ERR_CAPABILITY_DENIED');
  });

  it('an unknown status stays a bad output, whatever the code', async () => {
    const { err } = await reportFail({ status: -99, code: 'GW_ERR_SENSOR_NOT_READY' });
    assert.equal(err.code, 'GW_ERR_MODULE_BAD_OUTPUT');
  });
});

/** Starts a gateway whose one sensor runs test/reportfail failing gw_init as `settings` say. */
async function startWithInitFailure(settings: Record<string, unknown>) {
  const logger = new MemoryLogger();
  const config = defaultConfig({ driver: 'simulated', module: wasmPath('test/reportfail') });
  config.sensors[0]!.settings = { at: 'init', ...settings };
  try {
    const service = await SensorService.start(config, { clock: new ManualClock(), logger, isolation: 'in-thread' });
    await service.close();
    return { started: true, logger, code: logger.entries.find((e) => e.msg.startsWith('sensor not answering at start-up'))?.fields['code'] };
  } catch (err) {
    return { started: false, logger, code: (err as GatewayError).code };
  }
}

describe('statuses at gw_init (docs/module-abi.md, "Statuses at gw_init")', { skip: TEST_MODULES_SKIP }, () => {
  for (const [status, code, started] of [
    [-1, 'GW_ERR_SENSOR_NOT_READY', true],
    [-2, 'GW_ERR_I2C_NACK', true],
    [-5, 'GW_ERR_CAPABILITY_DENIED', true],
    [-7, 'GW_ERR_SENSOR_WRONG_DEVICE', true],
    [-8, 'GW_ERR_MODULE_BAD_CONFIG', false],
    [-9, 'GW_ERR_MODULE_BAD_REQUEST', false],
    [-11, 'GW_ERR_MODULE_INTERNAL', false],
    // A status outside the ABI is bad output: served as failing, the other sensors run (issue 14).
    [-99, 'GW_ERR_MODULE_BAD_OUTPUT', true],
  ] as const) {
    it(`status ${status} -> ${code}: ${started ? 'logged, retried on read' : 'the gateway does not start'}`, async () => {
      const result = await startWithInitFailure({ status });
      assert.equal(result.started, started);
      assert.equal(result.code, code);
    });
  }

  it('a module that names GW_ERR_SENSOR_NOT_READY with an INTERNAL status is retried, not a stop', async () => {
    const result = await startWithInitFailure({ status: -11, code: 'GW_ERR_SENSOR_NOT_READY' });
    assert.equal(result.started, true);
    assert.equal(result.code, 'GW_ERR_SENSOR_NOT_READY');
  });
});
