/**
 * Everything the doctor learns about the machine comes through this interface, so each check
 * can be run against a fake: a directory standing in for `/` (fake /dev, /boot, /etc, /sys), a
 * recording i2c-bus module, another process identity, a UDP binder that says EADDRINUSE. The
 * defaults are the real ones.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { type Board, detectBoard } from '../../../drivers/board.ts';
import { bindCoapSocket } from '../../bind-socket.ts';
import { type Clock, SystemClock } from '../../../drivers/clock.ts';
import type { I2CBus } from '../../../drivers/i2c-bus.ts';
import type { I2cBusModule } from '../../../drivers/linux-i2c-bus.ts';

/** Host files by their absolute path on the machine ("/dev/i2c-1"). Failures throw errno exceptions. */
export interface HostFiles {
  exists(file: string): boolean;
  readText(file: string): string;
  list(dir: string): string[];
  stat(file: string): { uid: number; gid: number; mode: number };
  /** Opens read-write and closes again: what i2c-bus does to /dev/i2c-N on its first transfer. */
  openReadWrite(file: string): void;
  /** Opens for reading and closes again. */
  openRead(file: string): void;
  writeText(file: string, text: string): void;
}

export interface ProcessIdentity {
  uid: number;
  gid: number;
  /** Supplementary groups of this process (what the kernel checks), by number. */
  groups: number[];
  user: string;
}

export interface DoctorEnvironment {
  /** The directory standing for `/` (default `/`). */
  root: string;
  files: HostFiles;
  /** process.versions.node */
  nodeVersion: string;
  identity(): ProcessIdentity;
  /** Raspberry Pi or not, from the device tree model. */
  board(): Board;
  /** The i2c-bus module LinuxI2CBus uses (default: the real package, loaded on first use). */
  i2cModule: I2cBusModule | undefined;
  /**
   * Makes the simulated bus for `--driver simulated` (default: one simulated TMP102 at the
   * sensor's address). Tests put other devices on it.
   */
  simulatedBus: ((busNumber: number, address: number) => I2CBus) | undefined;
  clock: Clock;
  /** Binds a UDP socket as the gateway would, then closes it; rejects with the errno exception. */
  bindUdp(host: string, port: number): Promise<void>;
  /** Waits a little (GPIO export: udev needs a moment to create and chown the files). */
  pause(ms: number): Promise<void>;
}

export function hostFiles(root: string): HostFiles {
  const at = (file: string) => path.join(root, file);
  return {
    exists: (file) => existsSync(at(file)),
    readText: (file) => readFileSync(at(file), 'utf8'),
    list: (dir) => readdirSync(at(dir)),
    stat: (file) => {
      const s = statSync(at(file));
      return { uid: s.uid, gid: s.gid, mode: s.mode };
    },
    openReadWrite: (file) => closeSync(openSync(at(file), 'r+')),
    openRead: (file) => closeSync(openSync(at(file), 'r')),
    writeText: (file, text) => writeFileSync(at(file), text),
  };
}

export function processIdentity(): ProcessIdentity {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = String(process.getuid?.() ?? '?'); // a uid without a passwd entry (a container)
  }
  return { uid: process.getuid?.() ?? -1, gid: process.getgid?.() ?? -1, groups: process.getgroups?.() ?? [], user };
}

/**
 * Binds the CoAP socket exactly as `npm start` does (gateway/bind-socket.ts: name resolution,
 * dual stack, coded errors) and releases it: the failure, if any, is the one the gateway would meet.
 */
export async function bindAndRelease(host: string, port: number): Promise<void> {
  const socket = await bindCoapSocket(host, port);
  await new Promise<void>((resolve) => socket.close(() => resolve()));
}

export function defaultEnvironment(overrides: Partial<DoctorEnvironment> = {}): DoctorEnvironment {
  const root = overrides.root ?? '/';
  return {
    root,
    files: hostFiles(root),
    nodeVersion: process.versions.node,
    identity: processIdentity,
    board: () => detectBoard(root),
    i2cModule: undefined,
    simulatedBus: undefined,
    clock: new SystemClock(),
    bindUdp: bindAndRelease,
    pause: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    ...overrides,
  };
}
