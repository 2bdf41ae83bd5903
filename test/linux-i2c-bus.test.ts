import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { I2cBusSync, OpenOptions } from 'i2c-bus';
import { I2CError } from '../drivers/i2c-error.ts';
import { LinuxI2CBus, i2cErrorCodeForErrno, type I2cBusModule } from '../drivers/linux-i2c-bus.ts';

/**
 * A stand-in for the i2c-bus module that records each call and answers from a script. This
 * is a unit test of LinuxI2CBus's call choice, byte order and errno mapping, not of the kernel.
 */
class FakeI2cModule implements I2cBusModule {
  calls: string[] = [];
  opened: Array<[number, OpenOptions | undefined]> = [];
  word = 0;
  byte = 0;
  block: number[] = [];
  failWith: string | undefined; // errno name to throw from every transfer
  shortBy = 0;

  openSync(busNumber: number, options?: OpenOptions): I2cBusSync {
    this.opened.push([busNumber, options]);
    const rec = (name: string, ...args: unknown[]): void => {
      this.calls.push(`${name}(${args.map((a) => (Buffer.isBuffer(a) ? `[${[...a].join(',')}]` : String(a))).join(',')})`);
      if (this.failWith) throw Object.assign(new Error(`${this.failWith}, fake failure`), { code: this.failWith });
    };
    const fake: I2cBusSync = {
      closeSync: () => rec('closeSync'),
      writeQuickSync: (a: number, bit: number) => (rec('writeQuickSync', a, bit), fake),
      receiveByteSync: (a: number) => (rec('receiveByteSync', a), this.byte),
      sendByteSync: (a: number, b: number) => (rec('sendByteSync', a, b), fake),
      readByteSync: (a: number, c: number) => (rec('readByteSync', a, c), this.byte),
      readWordSync: (a: number, c: number) => (rec('readWordSync', a, c), this.word),
      writeByteSync: (a: number, c: number, b: number) => (rec('writeByteSync', a, c, b), fake),
      writeWordSync: (a: number, c: number, w: number) => (rec('writeWordSync', a, c, `0x${w.toString(16)}`), fake),
      readI2cBlockSync: (a: number, c: number, n: number, buf: Buffer) => {
        rec('readI2cBlockSync', a, c, n);
        Buffer.from(this.block).copy(buf);
        return n - this.shortBy;
      },
      writeI2cBlockSync: (a: number, c: number, n: number, buf: Buffer) => (rec('writeI2cBlockSync', a, c, n, buf.subarray(0, n)), fake),
      i2cReadSync: (a: number, n: number, buf: Buffer) => {
        rec('i2cReadSync', a, n);
        Buffer.from(this.block).copy(buf);
        return n - this.shortBy;
      },
      i2cWriteSync: (a: number, n: number, buf: Buffer) => (rec('i2cWriteSync', a, n, buf.subarray(0, n)), n - this.shortBy),
    };
    return fake;
  }
}

function caught(fn: () => unknown): I2CError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof I2CError, `expected an I2CError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an I2CError');
}

describe('LinuxI2CBus with a fake i2c-bus module (call choice and byte order)', () => {
  it("is kind 'linux' and opens its bus number once", () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake, forceAccess: true });
    assert.equal(bus.kind, 'linux');
    assert.equal(bus.busNumber, 1);
    assert.deepEqual(fake.opened, [[1, { forceAccess: true }]]);
  });

  it('readRegister of 2 bytes is an SMBus word, swapped to wire order (MSB first)', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    fake.word = 0x0019; // the TMP102 sent 0x19 then 0x00 (25 °C); SMBus puts the first byte low
    assert.deepEqual([...bus.readRegister(0x48, 0, 2)], [0x19, 0x00]);
    fake.word = 0xa060; // configuration 0x60A0 as i2cget prints it
    assert.deepEqual([...bus.readRegister(0x48, 1, 2)], [0x60, 0xa0]);
    assert.deepEqual(fake.calls, ['readWordSync(72,0)', 'readWordSync(72,1)']);
  });

  it('readRegister of 1 byte is SMBus read byte; longer is an I2C block read', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    fake.byte = 0x60;
    assert.deepEqual([...bus.readRegister(0x48, 1, 1)], [0x60]);
    fake.block = [1, 2, 3];
    assert.deepEqual([...bus.readRegister(0x48, 2, 3)], [1, 2, 3]);
    assert.deepEqual(fake.calls, ['readByteSync(72,1)', 'readI2cBlockSync(72,2,3)']);
  });

  it('writeRegister: 2 bytes as an SMBus word (first wire byte low), 1 as write byte, 0 as send byte, more as a block', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    bus.writeRegister(0x48, 1, Uint8Array.of(0x60, 0xa0));
    bus.writeRegister(0x48, 1, Uint8Array.of(0x61));
    bus.writeRegister(0x48, 3, new Uint8Array(0));
    bus.writeRegister(0x48, 2, Uint8Array.of(4, 5, 6));
    assert.deepEqual(fake.calls, [
      'writeWordSync(72,1,0xa060)',
      'writeByteSync(72,1,97)',
      'sendByteSync(72,3)',
      'writeI2cBlockSync(72,2,3,[4,5,6])',
    ]);
  });

  it('write and read: 1 byte as SMBus send/receive byte, longer as plain I2C, empty write as quick write', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    fake.byte = 0x90;
    fake.block = [0x19, 0x00];
    bus.write(0x48, Uint8Array.of(1));
    bus.write(0x48, Uint8Array.of(1, 0x60, 0xa0));
    bus.write(0x48, new Uint8Array(0));
    assert.deepEqual([...bus.read(0x0c, 1)], [0x90]);
    assert.deepEqual([...bus.read(0x48, 2)], [0x19, 0x00]);
    assert.deepEqual(fake.calls, [
      'sendByteSync(72,1)',
      'i2cWriteSync(72,3,[1,96,160])',
      'writeQuickSync(72,0)',
      'receiveByteSync(12)',
      'i2cReadSync(72,2)',
    ]);
  });

  it('counts every attempted transaction, failures included', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    bus.readRegister(0x48, 0, 2);
    fake.failWith = 'EREMOTEIO';
    assert.throws(() => bus.readRegister(0x48, 0, 2));
    assert.equal(bus.transactionCount, 2);
  });

  it('reports short transfers as bus errors and refuses blocks over 32 bytes as unsupported', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    fake.shortBy = 1;
    assert.equal(caught(() => bus.read(0x48, 2)).code, 'GW_ERR_I2C_BUS');
    assert.equal(caught(() => bus.write(0x48, Uint8Array.of(1, 2))).code, 'GW_ERR_I2C_BUS');
    assert.equal(caught(() => bus.readRegister(0x48, 0, 4)).code, 'GW_ERR_I2C_BUS');
    assert.equal(caught(() => bus.readRegister(0x48, 0, 33)).code, 'GW_ERR_I2C_UNSUPPORTED');
    assert.equal(caught(() => bus.writeRegister(0x48, 0, new Uint8Array(33))).code, 'GW_ERR_I2C_UNSUPPORTED');
  });

  it('refuses invalid arguments as programming errors before touching the bus', () => {
    const fake = new FakeI2cModule();
    const bus = new LinuxI2CBus(1, { module: fake });
    assert.throws(() => bus.read(0x80, 1), RangeError);
    assert.throws(() => bus.readRegister(0x48, 256, 2), RangeError);
    assert.throws(() => bus.read(0x48, 0), RangeError);
    assert.deepEqual(fake.calls, []);
  });
});

describe('LinuxI2CBus errno mapping (fake module)', () => {
  const table: Array<[string, string]> = [
    ['EREMOTEIO', 'GW_ERR_I2C_NACK'],
    ['ENXIO', 'GW_ERR_I2C_NACK'],
    ['ENODEV', 'GW_ERR_I2C_NACK'],
    ['EIO', 'GW_ERR_I2C_BUS'],
    ['EAGAIN', 'GW_ERR_I2C_BUS'],
    ['EPROTO', 'GW_ERR_I2C_BUS'],
    ['ETIMEDOUT', 'GW_ERR_I2C_TIMEOUT'],
    ['EACCES', 'GW_ERR_I2C_PERMISSION'],
    ['EPERM', 'GW_ERR_I2C_PERMISSION'],
    ['ENOENT', 'GW_ERR_I2C_NO_ADAPTER'],
    ['EBUSY', 'GW_ERR_I2C_BUSY'],
    ['EOPNOTSUPP', 'GW_ERR_I2C_UNSUPPORTED'],
    ['ENOTSUP', 'GW_ERR_I2C_UNSUPPORTED'],
    ['EINVAL', 'GW_ERR_I2C_UNSUPPORTED'],
    ['EMFILE', 'GW_ERR_I2C_BUS'],
  ];
  for (const [errno, code] of table) {
    it(`${errno} -> ${code}, keeping the errno, bus and address`, () => {
      const fake = new FakeI2cModule();
      const bus = new LinuxI2CBus(4, { module: fake });
      fake.failWith = errno;
      const err = caught(() => bus.readRegister(0x49, 0, 2));
      assert.equal(err.code, code);
      assert.equal(err.errno, errno);
      assert.equal(err.busNumber, 4);
      assert.equal(err.address, 0x49);
      assert.equal((err.cause as { code?: string }).code, errno);
      assert.equal(i2cErrorCodeForErrno(errno), code);
    });
  }

  it('an error without an errno is a bus error with no errno', () => {
    const throwsPlainError = {
      openSync: () =>
        ({
          readWordSync: () => {
            throw new Error('not an errno exception');
          },
        }) as unknown as I2cBusSync,
    };
    const err = caught(() => new LinuxI2CBus(1, { module: throwsPlainError }).readRegister(0x48, 0, 2));
    assert.equal(err.code, 'GW_ERR_I2C_BUS');
    assert.equal(err.errno, undefined);
    assert.equal(i2cErrorCodeForErrno(undefined), 'GW_ERR_I2C_BUS');
  });
});

describe('LinuxI2CBus on the real kernel (no I2C hardware on this machine)', () => {
  it('reading /dev/i2c-97 fails with GW_ERR_I2C_NO_ADAPTER (ENOENT) on the first transfer', { skip: existsSync('/dev/i2c-97') && '/dev/i2c-97 exists here' }, () => {
    const bus = new LinuxI2CBus(97); // the real i2c-bus package: opening is lazy, so this succeeds
    const err = caught(() => bus.readRegister(0x48, 0, 2));
    assert.equal(err.code, 'GW_ERR_I2C_NO_ADAPTER');
    assert.equal(err.errno, 'ENOENT');
    assert.equal(err.busNumber, 97);
    assert.equal(bus.transactionCount, 1);
    assert.equal(caught(() => bus.write(0x48, Uint8Array.of(0))).code, 'GW_ERR_I2C_NO_ADAPTER');
    bus.close();
  });
});
