/**
 * Pins the payload size of each reading format for one fixed reading, measured and simulated, and
 * checks that docs/coap-api.md states the same numbers, so the doc cannot drift from the encoder.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { READING_FORMATS, encodeReading } from '../gateway/coap/reading-formats.ts';

// tmp102 at 21.5 °C, read at 2026-01-01T00:00:00.040Z (the test gateway's ManualClock after its 40 ms start-up).
const READING = { sensor: 'tmp102', quantity: 'temperature', value: 21.5, unit: 'Cel', timeMs: Date.UTC(2026, 0, 1) + 40 };
const EXPECTED: Record<number, number> = { 60: 47, 112: 43, 110: 74, 50: 66, 0: 40 };
// The same reading from a simulated chip: "sim": true, "sim_": true, " simulated".
const SIMULATED = { ...READING, simulated: true };
const EXPECTED_SIMULATED: Record<number, number> = { 60: 52, 112: 49, 110: 86, 50: 77, 0: 50 };

describe('reading payload sizes', () => {
  it('are pinned per format for a fixed reading', () => {
    for (const f of READING_FORMATS) assert.equal(encodeReading(READING, f).length, EXPECTED[f], `format ${f}`);
    for (const f of READING_FORMATS) assert.equal(encodeReading({ ...READING, simulated: false }, f).length, EXPECTED[f], `format ${f}, simulated: false`);
  });

  it('are pinned per format for the same reading from a simulated chip', () => {
    for (const f of READING_FORMATS) assert.equal(encodeReading(SIMULATED, f).length, EXPECTED_SIMULATED[f], `format ${f}`);
  });

  it('match the table in docs/coap-api.md', () => {
    const doc = readFileSync(new URL('../docs/coap-api.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `[^`]+` \| (\d+) \| (\d+) \| (\d+) \|/gm)];
    assert.deepEqual(Object.fromEntries(rows.map((m) => [Number(m[1]), Number(m[2])])), EXPECTED);
    assert.deepEqual(Object.fromEntries(rows.map((m) => [Number(m[1]), Number(m[3])])), EXPECTED_SIMULATED);
  });

  it('CBOR reading is exactly the documented bytes', () => {
    assert.equal(
      Buffer.from(encodeReading(READING, 60)).toString('hex'),
      'a46673656e736f7266746d703130326576616c7565f94d6064756e69746343656c6474696d65fb41da556e40028f5c',
    );
    // Simulated: a map of five, the fifth "sim": true (63 73696d f5).
    assert.equal(
      Buffer.from(encodeReading(SIMULATED, 60)).toString('hex'),
      'a56673656e736f7266746d703130326576616c7565f94d6064756e69746343656c6474696d65fb41da556e40028f5c6373696df5',
    );
    // SenML-CBOR: a record of six, the must-understand label "sim_" a text string (64 73696d5f) after v, then true (f5).
    assert.equal(
      Buffer.from(encodeReading(SIMULATED, 112)).toString('hex'),
      '81a62167746d703130322f22fb41da556e40028f5c006b74656d7065726174757265016343656c02f94d606473696d5ff5',
    );
  });
});
