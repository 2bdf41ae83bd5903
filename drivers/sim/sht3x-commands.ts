/**
 * SHT3x-DIS command set and timing (Sensirion SHT3x-DIS datasheet, version 6, February 2019),
 * shared by the simulated chip and its tests. Commands are 16-bit, sent MSB first (section 4.2);
 * the codes carry their own 3-bit checksum, so a corrupted code is simply not in these tables.
 */

/** I2C address by the ADDR pin (Table 7 "I2C device addresses"): 0x44 with ADDR low, 0x45 high. */
export const SHT3X_ADDRESS = { addrLow: 0x44, addrHigh: 0x45 } as const;

export type Sht3xRepeatability = 'high' | 'medium' | 'low';

/** Periodic rates in measurements per second (Table 10). */
export type Sht3xRate = 0.5 | 1 | 2 | 4 | 10;

/** Single shot, clock stretching enabled / disabled (section 4.3, Table 9). */
export const SHT3X_SINGLE_SHOT = {
  stretch: { high: 0x2c06, medium: 0x2c0d, low: 0x2c10 },
  noStretch: { high: 0x2400, medium: 0x240b, low: 0x2416 },
} as const;

/** Periodic data acquisition by rate and repeatability (section 4.5, Table 10). */
export const SHT3X_PERIODIC: Readonly<Record<Sht3xRate, Readonly<Record<Sht3xRepeatability, number>>>> = {
  0.5: { high: 0x2032, medium: 0x2024, low: 0x202f },
  1: { high: 0x2130, medium: 0x2126, low: 0x212d },
  2: { high: 0x2236, medium: 0x2220, low: 0x222b },
  4: { high: 0x2334, medium: 0x2322, low: 0x2329 },
  10: { high: 0x2737, medium: 0x2721, low: 0x272a },
};

export const SHT3X_COMMAND = {
  /** Section 4.6, Table 11: read out the periodic result (and clear it). */
  fetchData: 0xe000,
  /** Section 4.7, Table 12: periodic mode with accelerated response time, 4 measurements per second. */
  art: 0x2b32,
  /** Section 4.8, Table 13: stop periodic data acquisition, back to single shot mode. */
  break: 0x3093,
  /** Section 4.9, Table 14. */
  softReset: 0x30a2,
  /** Section 4.10, Table 16. */
  heaterOn: 0x306d,
  heaterOff: 0x3066,
  /** Section 4.11, Tables 17 and 18. */
  readStatus: 0xf32d,
  clearStatus: 0x3041,
  /** Electronic identification code application note: serial number, with / without clock stretching. */
  readSerialStretch: 0x3780,
  readSerialNoStretch: 0x3682,
} as const;

/** Alert limits (application note "Alert Mode of SHT3x- and STS3x-DIS", Table 3): read and write codes per limit. */
export const SHT3X_ALERT_LIMIT = {
  highSet: { read: 0xe11f, write: 0x611d },
  highClear: { read: 0xe114, write: 0x6116 },
  lowClear: { read: 0xe109, write: 0x610b },
  lowSet: { read: 0xe102, write: 0x6100 },
} as const;
export type Sht3xLimitName = keyof typeof SHT3X_ALERT_LIMIT;

/** General call reset: address 0x00, second byte 0x06 (section 4.9, Table 15). */
export const SHT3X_GENERAL_CALL_RESET = 0x06;

/**
 * Table 4 "System timing specifications" (VDD >= 2.4 V), in ms. A driver must wait the maximum;
 * the simulation uses the maximum by default so that a driver waiting only the typical time
 * fails here rather than on a cold chip in the field.
 */
export const SHT3X_TIMING_MS = {
  measurement: {
    high: { typical: 12.5, max: 15 },
    medium: { typical: 4.5, max: 6 },
    low: { typical: 2.5, max: 4 },
  },
  /** Power-up (and hard reset: nRESET, general call) to idle. */
  powerUp: { typical: 0.5, max: 1 },
  /** From the ACK of the soft reset command to idle. */
  softReset: { typical: 0.5, max: 1.5 },
  /** Break: "the sensor aborts the ongoing measurement and enters the single shot mode": 1 ms (section 4.8). */
  break: { typical: 1, max: 1 },
  /** "After sending a command to the sensor a minimal waiting time of 1 ms is needed before another command can be received" (section 4). */
  commandSpacing: { typical: 1, max: 1 },
} as const;

export type Sht3xTiming = 'typical' | 'max';

/** Period between measurement starts in periodic mode (Table 10; ART: 4 Hz, section 4.7). */
export function periodicPeriodMs(rate: Sht3xRate): number {
  return 1000 / rate;
}

/** A decoded command: what the chip does with the 16 bits it received. */
export type Sht3xCommand =
  | { kind: 'single-shot'; repeatability: Sht3xRepeatability; stretch: boolean }
  | { kind: 'periodic'; repeatability: Sht3xRepeatability; rate: Sht3xRate; art: boolean }
  | { kind: 'fetch-data' }
  | { kind: 'break' }
  | { kind: 'soft-reset' }
  | { kind: 'heater'; on: boolean }
  | { kind: 'read-status' }
  | { kind: 'clear-status' }
  | { kind: 'read-serial'; stretch: boolean }
  | { kind: 'read-limit'; limit: Sht3xLimitName }
  | { kind: 'write-limit'; limit: Sht3xLimitName };

const COMMANDS = buildCommandTable();

/** The command a code means, or undefined for a code the chip does not know (command status bit). */
export function decodeSht3xCommand(code: number): Sht3xCommand | undefined {
  return COMMANDS.get(code);
}

function buildCommandTable(): Map<number, Sht3xCommand> {
  const table = new Map<number, Sht3xCommand>();
  const repeatabilities: Sht3xRepeatability[] = ['high', 'medium', 'low'];
  for (const repeatability of repeatabilities) {
    table.set(SHT3X_SINGLE_SHOT.stretch[repeatability], { kind: 'single-shot', repeatability, stretch: true });
    table.set(SHT3X_SINGLE_SHOT.noStretch[repeatability], { kind: 'single-shot', repeatability, stretch: false });
    for (const rate of [0.5, 1, 2, 4, 10] as const) {
      table.set(SHT3X_PERIODIC[rate][repeatability], { kind: 'periodic', repeatability, rate, art: false });
    }
  }
  // ART: the datasheet gives no repeatability; high is the simulation's choice (a guess).
  table.set(SHT3X_COMMAND.art, { kind: 'periodic', repeatability: 'high', rate: 4, art: true });
  table.set(SHT3X_COMMAND.fetchData, { kind: 'fetch-data' });
  table.set(SHT3X_COMMAND.break, { kind: 'break' });
  table.set(SHT3X_COMMAND.softReset, { kind: 'soft-reset' });
  table.set(SHT3X_COMMAND.heaterOn, { kind: 'heater', on: true });
  table.set(SHT3X_COMMAND.heaterOff, { kind: 'heater', on: false });
  table.set(SHT3X_COMMAND.readStatus, { kind: 'read-status' });
  table.set(SHT3X_COMMAND.clearStatus, { kind: 'clear-status' });
  table.set(SHT3X_COMMAND.readSerialStretch, { kind: 'read-serial', stretch: true });
  table.set(SHT3X_COMMAND.readSerialNoStretch, { kind: 'read-serial', stretch: false });
  for (const limit of Object.keys(SHT3X_ALERT_LIMIT) as Sht3xLimitName[]) {
    table.set(SHT3X_ALERT_LIMIT[limit].read, { kind: 'read-limit', limit });
    table.set(SHT3X_ALERT_LIMIT[limit].write, { kind: 'write-limit', limit });
  }
  return table;
}
