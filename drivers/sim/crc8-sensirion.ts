/**
 * The CRC-8 Sensirion puts after every 16-bit word on the I2C bus (SHT3x-DIS datasheet section
 * 4.12, Table 20 "I2C CRC properties"): polynomial 0x31 (x^8 + x^5 + x^4 + 1), initialisation
 * 0xFF, no reflection of input or output, final XOR 0x00. Datasheet example: CRC(0xBEEF) = 0x92.
 *
 * Kept apart from the SHT3x model because the same checksum guards the SHT4x, SCD4x and SGP4x
 * words: a later simulated Sensirion chip imports this, not the SHT3x.
 */
const POLYNOMIAL = 0x31;
const INITIAL = 0xff;

/** CRC-8 of `bytes` in wire order. For a data word, pass its two bytes, MSB first. */
export function sensirionCrc8(bytes: ArrayLike<number>): number {
  let crc = INITIAL;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]! & 0xff;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x80 ? ((crc << 1) ^ POLYNOMIAL) & 0xff : (crc << 1) & 0xff;
    }
  }
  return crc;
}

/** A 16-bit word as the chip sends it: MSB, LSB, then the CRC of those two bytes. */
export function wordWithCrc(word: number): [number, number, number] {
  if (!Number.isInteger(word) || word < 0 || word > 0xffff) throw new RangeError(`a word must be an integer in 0..0xFFFF, got ${word}`);
  const msb = word >> 8;
  const lsb = word & 0xff;
  return [msb, lsb, sensirionCrc8([msb, lsb])];
}

/** Words and their CRCs back to back: what a multi-word read returns (3 bytes per word). */
export function wordsWithCrc(words: readonly number[]): Uint8Array {
  const out = new Uint8Array(words.length * 3);
  words.forEach((word, i) => out.set(wordWithCrc(word), i * 3));
  return out;
}
