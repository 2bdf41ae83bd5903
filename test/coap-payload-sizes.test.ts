/**
 * Pins the payload size of each reading format for one fixed reading, and checks that
 * docs/coap-api.md states the same numbers, so the doc cannot drift from the encoder.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { READING_FORMATS, encodeReading } from '../gateway/coap/reading-formats.ts';

// tmp102 at 21.5 °C, read at 2026-01-01T00:00:00.040Z (the test gateway's ManualClock after its 40 ms start-up).
const READING = { sensor: 'tmp102', quantity: 'temperature', value: 21.5, unit: 'Cel', timeMs: Date.UTC(2026, 0, 1) + 40 };
const EXPECTED: Record<number, number> = { 60: 47, 112: 43, 110: 74, 50: 66, 0: 40 };

describe('reading payload sizes', () => {
  it('are pinned per format for a fixed reading', () => {
    for (const f of READING_FORMATS) assert.equal(encodeReading(READING, f).length, EXPECTED[f], `format ${f}`);
  });

  it('match the table in docs/coap-api.md', () => {
    const doc = readFileSync(new URL('../docs/coap-api.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `[^`]+` \| (\d+) \| (\d+) \|/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(Object.fromEntries(rows), EXPECTED);
  });

  it('CBOR reading is exactly the documented bytes', () => {
    assert.equal(
      Buffer.from(encodeReading(READING, 60)).toString('hex'),
      'a46673656e736f7266746d703130326576616c7565f94d6064756e69746343656c6474696d65fb41da556e40028f5c',
    );
  });
});
