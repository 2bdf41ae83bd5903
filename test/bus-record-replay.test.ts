/**
 * Recording bus transfers (--record) and replaying them (`"device": "replay"`): the TMP102 module
 * recorded against the simulated TMP102 reads the same values against the replay; a module that
 * asks something else gets GW_ERR_I2C_NACK naming the deviation; the recording is bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../drivers/clock.ts';
import { I2CError } from '../drivers/i2c-error.ts';
import { TransferRecorder, parseRecording, recordTransfers } from '../drivers/recording-bus.ts';
import { ReplayDevice, type ReplayDeviation } from '../drivers/sim/replay-device.ts';
import { SimulatedI2CBus } from '../drivers/sim/sim-i2c-bus.ts';
import { createSimulatedTmp102Bus } from '../drivers/sim/simulated-tmp102-bus.ts';
import { GatewayError } from '../gateway/errors.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { parseConfig } from '../gateway/service/config.ts';
import { openHardware, simulatedTmp102 } from '../gateway/service/hardware.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'gw-record-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function advance(clock: ManualClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 5) {
    clock.advanceMs(5);
    await new Promise((r) => setImmediate(r));
  }
}

/** The TMP102 module on one simulated sensor, every request a bus read (pacing off), in-thread on a ManualClock. */
async function start(simulation: unknown, hardwareOptions: Parameters<typeof openHardware>[2] = {}) {
  const clock = new ManualClock();
  const config = parseConfig({ driver: 'simulated', sensors: [{ name: 't', pacing: false, simulation }] }, dir);
  const service = await SensorService.start(config, {
    clock,
    logger: new MemoryLogger(),
    isolation: 'in-thread',
    openHardware: (c, clk, o) => openHardware(c, clk, { ...o, ...hardwareOptions }),
  });
  await advance(clock, 40);
  return { clock, service };
}

describe('record and replay', () => {
  it('the TMP102 module reads the same values from the replay as from the chip it was recorded on', async () => {
    const file = path.join(dir, 'session.jsonl');
    const recorded: number[] = [];
    {
      const { clock, service } = await start({ kind: 'constant', celsius: 21.5 }, { record: { file } });
      const chip = simulatedTmp102(service.hardware, 't');
      for (const celsius of [21.5, -12.25, 30.0625]) {
        chip.setTemperature(celsius);
        await advance(clock, 300);
        recorded.push((await service.read('t')).value);
      }
      await service.close();
    }
    assert.deepEqual(recorded, [21.5, -12.25, 30.0625]);
    const transfers = parseRecording(readFileSync(file, 'utf8'));
    assert.ok(transfers.some((t) => t.kind === 'readRegister' && t.written[0] === 0x01), 'the module\'s set-up is recorded');
    assert.deepEqual([...transfers.at(-1)!.read!], [0x1e, 0x10], 'the last read: 30.0625 °C is 0x1E1 << 4 (SBOS397 Table 5)');

    const { clock, service } = await start({ device: 'replay', file });
    try {
      const replayed: number[] = [];
      for (let i = 0; i < 4; i++) {
        await advance(clock, 300);
        const r = await service.read('t');
        replayed.push(r.value);
        assert.equal(r.simulated, true, 'a replay is not a measurement');
      }
      assert.deepEqual(replayed, [...recorded, 30.0625], 'then holds the last answer');
    } finally {
      await service.close();
    }
  });

  it('a transfer the recording does not have next is NACKed with the deviation named, then the replay finds its place', () => {
    const clock = new ManualClock();
    const deviations: ReplayDeviation[] = [];
    const entry = (written: number[], read: number[]) => ({ time: 0, bus: 1, address: 0x48, kind: 'readRegister' as const, written: Uint8Array.from(written), length: read.length, read: Uint8Array.from(read) });
    const device = new ReplayDevice({ clock, transfers: [entry([1], [0x60, 0xa0]), entry([0], [0x19, 0x00]), entry([0], [0x1a, 0x00])], onDeviation: (d) => deviations.push(d) });
    const bus = new SimulatedI2CBus(1);
    bus.attach(0x48, device);
    assert.throws(() => bus.readRegister(0x48, 0x00, 2), (err: unknown) => {
      assert.ok(err instanceof I2CError);
      assert.equal(err.code, 'GW_ERR_I2C_NACK');
      assert.match(err.message, /replay deviation at recorded transfer 1: expected write \[01\] then read of 2 bytes, got write \[00\] then read of 2 bytes/);
      return true;
    });
    assert.deepEqual(deviations, [{ expectedIndex: 0, expected: 'write [01] then read of 2 bytes', got: 'write [00] then read of 2 bytes' }]);
    // Out of step: the same request now finds the next entry that matches.
    assert.deepEqual([...bus.readRegister(0x48, 0x00, 2)], [0x19, 0x00]);
    assert.deepEqual([...bus.readRegister(0x48, 0x00, 2)], [0x1a, 0x00]);
    assert.deepEqual([...bus.readRegister(0x48, 0x00, 2)], [0x1a, 0x00], 'held at the end');
    assert.throws(() => bus.readRegister(0x48, 0x03, 2), { code: 'GW_ERR_I2C_NACK' }, 'never recorded');
    assert.equal(device.deviations, 2);
  });

  it('"loop" starts again; a recorded error is replayed; a reset rewinds', () => {
    const clock = new ManualClock();
    const device = new ReplayDevice({
      clock,
      atEnd: 'loop',
      transfers: [
        { time: 0, bus: 1, address: 0x48, kind: 'read', written: new Uint8Array(0), length: 1, read: Uint8Array.of(1) },
        { time: 1, bus: 1, address: 0x48, kind: 'read', written: new Uint8Array(0), length: 1, error: 'GW_ERR_I2C_TIMEOUT' },
        { time: 2, bus: 1, address: 0x48, kind: 'read', written: new Uint8Array(0), length: 1, read: Uint8Array.of(3) },
      ],
    });
    assert.deepEqual([...device.onRead(1)], [1]);
    assert.throws(() => device.onRead(1), { code: 'GW_ERR_I2C_TIMEOUT' });
    assert.deepEqual([...device.onRead(1)], [3]);
    assert.deepEqual([...device.onRead(1)], [1], 'looped');
    device.resetChip();
    assert.equal(device.position, 0);
  });

  it('the recording file is bounded: past its ceiling one "truncated" line, then nothing', () => {
    const file = path.join(dir, 'bounded.jsonl');
    const recorder = new TransferRecorder(file, { maxBytes: 600, clock: new ManualClock() });
    const { bus } = createSimulatedTmp102Bus({ clock: new ManualClock() });
    const recording = recordTransfers(bus, recorder);
    for (let i = 0; i < 50; i++) recording.readRegister(0x48, 0x00, 2);
    assert.throws(() => recording.read(0x49, 1), { code: 'GW_ERR_I2C_NACK' }, 'the transfer\'s result is unchanged');
    recorder.close();
    assert.ok(recorder.truncated);
    assert.ok(statSync(file).size <= 600, `${statSync(file).size} bytes`);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    assert.deepEqual(Object.keys(JSON.parse(lines.at(-1)!)), ['truncated', 'time']);
    assert.equal(parseRecording(readFileSync(file, 'utf8')).length, recorder.transfers);
  });

  it('a second writer appends to the same recording (a bus thread beside the main thread), without a second header', () => {
    const file = path.join(dir, 'shared.jsonl');
    const clock = new ManualClock();
    const first = new TransferRecorder(file, { clock });
    const second = new TransferRecorder(file, { clock, append: true });
    const one = createSimulatedTmp102Bus({ clock, busNumber: 1 });
    const two = createSimulatedTmp102Bus({ clock, busNumber: 2 });
    recordTransfers(one.bus, first).readRegister(0x48, 0x01, 2);
    recordTransfers(two.bus, second).readRegister(0x48, 0x01, 2);
    first.close();
    second.close();
    assert.deepEqual(parseRecording(readFileSync(file, 'utf8')).map((t) => t.bus), [1, 2]);
    assert.equal(readFileSync(file, 'utf8').split('"recording"').length - 1, 1, 'one header');
  });

  it('two writers interleaved keep every line (both append), count time from one origin, and share one ceiling', () => {
    const file = path.join(dir, 'interleaved.jsonl');
    const clock = new ManualClock();
    const main = new TransferRecorder(file, { clock, maxBytes: 1200 });
    const thread = new TransferRecorder(file, { clock, append: true, maxBytes: 1200, originMs: main.originMs });
    const one = recordTransfers(createSimulatedTmp102Bus({ clock, busNumber: 1 }).bus, main);
    const two = recordTransfers(createSimulatedTmp102Bus({ clock, busNumber: 2 }).bus, thread);
    // main, thread, thread, main: with the first writer on a plain (not O_APPEND) descriptor, its
    // second line landed over the thread's first.
    one.readRegister(0x48, 0x01, 2);
    clock.advanceMs(1);
    two.readRegister(0x48, 0x01, 2);
    clock.advanceMs(1);
    two.readRegister(0x48, 0x01, 2);
    clock.advanceMs(1);
    one.readRegister(0x48, 0x01, 2);
    const transfers = parseRecording(readFileSync(file, 'utf8'));
    assert.deepEqual(transfers.map((t) => t.bus), [1, 2, 2, 1]);
    assert.deepEqual(transfers.map((t) => t.time), [0, 1, 2, 3], 'one origin for both writers');
    for (let i = 0; i < 40; i++) (i % 2 ? one : two).readRegister(0x48, 0x01, 2);
    main.close();
    thread.close();
    // One ceiling for the file, not one per writer (two lines of slack: the other writer's, between check and write).
    assert.ok(statSync(file).size <= 1200 + 2 * 120, `${statSync(file).size} bytes`);
  });

  it('a replay file that is not a recording, or has nothing for the sensor, is refused naming the field', () => {
    const refusal = (content: string) => {
      const file = path.join(dir, 'bad.jsonl');
      writeFileSync(file, content);
      const config = parseConfig({ driver: 'simulated', sensors: [{ name: 't', simulation: { device: 'replay', file } }] }, dir);
      try {
        openHardware(config, new ManualClock()).close();
      } catch (err) {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
        return err.details.detail ?? '';
      }
      return 'accepted';
    };
    assert.match(refusal('seconds,celsius\n0,21\n'), /^sensors\[0\]\.simulation\.file: .*line 1: not JSON/);
    assert.match(refusal('{"recording":"gw-i2c-transfers","version":1}\n{"time":0,"bus":1,"address":73,"kind":"read","written":"","length":1,"read":"00"}\n'), /^sensors\[0\]\.simulation\.file: .* has no transfers for bus 1 address 0x48 \(it has 1 for other devices\)/);
    assert.match(refusal('{"recording":"gw-i2c-transfers","version":1}\n{"time":0,"bus":1,"address":72,"kind":"read","written":"","length":2,"read":"00"}\n'), /line 2: read has 1 bytes, length says 2/);
  });
});
