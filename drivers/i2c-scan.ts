/**
 * A bus scan as `i2cdetect -y N` makes it, through the gateway's own I2CBus interface, so the
 * same code scans /dev/i2c-N (LinuxI2CBus over i2c-bus) and the simulated bus, and every
 * failure keeps its errno and catalogue code. The i2c-bus package's own `scan()` is no use
 * here: it swallows every error, so a missing adapter or a stuck bus reads as "nothing found".
 *
 * Probing follows i2cdetect's default ("auto") mode (i2c-tools, tools/i2cdetect.c): an SMBus
 * quick write (address + W, no data; `write(address, [])`), except an SMBus receive byte
 * (`read(address, 1)`) at 0x30-0x37 and 0x50-0x5f, where a quick write can corrupt the
 * write-protect state of some EEPROMs. Both are SMBus commands, which every adapter offers (the
 * kernel's i2c-stub has no plain I2C transfers; the Pi's bcm2835 has both). An adapter that
 * refuses one kind (EOPNOTSUPP) is probed with the other.
 *
 * Addresses 0x00-0x02 (general call, CBUS, other bus formats) and 0x78-0x7f (10-bit addressing,
 * reserved) are never probed (UM10204 table 4), as i2cdetect does by default.
 */
import type { I2CBus } from './i2c-bus.ts';
import { I2CError, type I2CErrorCode } from './i2c-error.ts';

export const SCAN_FIRST_ADDRESS = 0x03;
export const SCAN_LAST_ADDRESS = 0x77;

export type ProbeKind = 'quick-write' | 'receive-byte';

/** i2cdetect's choice for an address (see the file comment). */
export function probeKindFor(address: number): ProbeKind {
  return (address >= 0x30 && address <= 0x37) || (address >= 0x50 && address <= 0x5f) ? 'receive-byte' : 'quick-write';
}

export interface ScanFailure {
  address: number;
  code: I2CErrorCode;
  errno: string | undefined;
  message: string;
}

export interface ScanResult {
  busNumber: number;
  /** Addresses that acknowledged, ascending. */
  found: number[];
  /** Addresses a kernel driver owns (EBUSY; i2cdetect prints "UU"). */
  busy: number[];
  /** Addresses whose probe failed on the wire (EIO, lost arbitration...): neither found nor absent. */
  errors: ScanFailure[];
  /** Set when the scan stopped early: no adapter, no permission, a stuck bus, no usable probe. */
  aborted: ScanFailure | undefined;
  /** Probe kinds the adapter refused (EOPNOTSUPP); the other kind was used instead. */
  unsupported: ProbeKind[];
  /** Addresses probed, and how many bus transactions that took. */
  probed: number;
}

/**
 * Errors that stop the scan: the adapter cannot be used at all, or waiting for it again at each
 * of the remaining addresses would take the adapter timeout each time (1 s on bcm2835).
 */
const FATAL: ReadonlySet<I2CErrorCode> = new Set(['GW_ERR_I2C_NO_ADAPTER', 'GW_ERR_I2C_PERMISSION', 'GW_ERR_I2C_TIMEOUT']);

export function scanI2CBus(bus: I2CBus, range: { first?: number; last?: number } = {}): ScanResult {
  const first = range.first ?? SCAN_FIRST_ADDRESS;
  const last = range.last ?? SCAN_LAST_ADDRESS;
  const result: ScanResult = { busNumber: bus.busNumber, found: [], busy: [], errors: [], aborted: undefined, unsupported: [], probed: 0 };
  for (let address = first; address <= last; address++) {
    const outcome = probe(bus, address, result);
    result.probed++;
    if (outcome === 'found') result.found.push(address);
    else if (outcome === 'absent') continue;
    else if (outcome.code === 'GW_ERR_I2C_BUSY') result.busy.push(address);
    else if (FATAL.has(outcome.code) || outcome.code === 'GW_ERR_I2C_UNSUPPORTED') {
      result.aborted = outcome;
      break;
    } else result.errors.push(outcome);
  }
  return result;
}

function probe(bus: I2CBus, address: number, result: ScanResult): 'found' | 'absent' | ScanFailure {
  let kind = probeKindFor(address);
  if (result.unsupported.includes(kind)) kind = other(kind);
  for (;;) {
    try {
      if (kind === 'quick-write') bus.write(address, new Uint8Array(0));
      else bus.read(address, 1);
      return 'found';
    } catch (err) {
      if (!(err instanceof I2CError)) throw err;
      if (err.code === 'GW_ERR_I2C_NACK') return 'absent';
      if (err.code === 'GW_ERR_I2C_UNSUPPORTED' && !result.unsupported.includes(kind)) {
        result.unsupported.push(kind);
        if (!result.unsupported.includes(other(kind))) {
          kind = other(kind);
          continue;
        }
      }
      return { address, code: err.code, errno: err.errno, message: err.message };
    }
  }
}

function other(kind: ProbeKind): ProbeKind {
  return kind === 'quick-write' ? 'receive-byte' : 'quick-write';
}

export function hexAddress(address: number): string {
  return `0x${address.toString(16).padStart(2, '0')}`;
}
