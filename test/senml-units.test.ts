/**
 * The SenML units registry as the host holds it (gateway/host/senml-units.ts): RFC 8428
 * section 12.1, RFC 8798 sections 2 and 3. Spot checks against the RFCs' tables, the rules a
 * symbol follows, and every secondary unit's conversion landing on a primary unit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SENML_PRIMARY_UNITS, SENML_SECONDARY_UNITS, isSenmlUnit } from '../gateway/host/senml-units.ts';

describe('SenML units registry', () => {
  it('holds the 58 units of RFC 8428 section 12.1 and the 8 RFC 8798 section 2 added', () => {
    assert.equal(SENML_PRIMARY_UNITS.size, 58 + 8);
  });

  it('holds the 33 secondary units of RFC 8798 section 3', () => {
    assert.equal(SENML_SECONDARY_UNITS.size, 33);
  });

  it('accepts what an environmental sensor reports', () => {
    for (const unit of ['Cel', 'K', '%RH', 'Pa', 'hPa', 'm/s', 'lx', 'ug/m3', 'ppm', '/', '%EL', 'dBm', 'mV']) assert.ok(isSenmlUnit(unit), unit);
  });

  it('accepts the units the registry marks as not recommended (still registered, in active use)', () => {
    for (const unit of ['g', 'l', 'l/s', '%', 'Bspl', '1/min', 'beat/min', 'beats', 'deg']) {
      assert.ok(isSenmlUnit(unit), unit);
      assert.equal(SENML_PRIMARY_UNITS.get(unit)?.deprecated, true, unit);
    }
  });

  it('refuses what is not a registered symbol: other spellings, case, prefixes the registry does not list', () => {
    for (const unit of ['', 'cel', 'CEL', '°C', 'degC', 'degF', 'RH', '% RH', 'mbar', 'kPa', 'Mbps', 'kg/m³', 'Cel ', 'percent']) {
      assert.equal(isSenmlUnit(unit), false, JSON.stringify(unit));
    }
    // "C" is there, and is the coulomb (RFC 8428 section 12.1): a module in °C must say "Cel".
    assert.equal(SENML_PRIMARY_UNITS.get('C')?.description, 'coulomb');
  });

  it('has no symbol twice, and none a registry symbol cannot hold (RFC 8428 section 4.5.1: no quote, comma or space)', () => {
    for (const unit of SENML_PRIMARY_UNITS.keys()) assert.equal(SENML_SECONDARY_UNITS.has(unit), false, unit);
    for (const unit of [...SENML_PRIMARY_UNITS.keys(), ...SENML_SECONDARY_UNITS.keys()]) assert.match(unit, /^[!#-+\--~]+$/, unit);
  });

  it('converts every secondary unit to a registered primary unit (RFC 8798 section 3)', () => {
    for (const [unit, s] of SENML_SECONDARY_UNITS) {
      assert.ok(SENML_PRIMARY_UNITS.has(s.primary), `${unit} -> ${s.primary}`);
      assert.ok(Number.isFinite(s.scale) && s.scale > 0 && Number.isFinite(s.offset), unit);
    }
  });

  it('has the conversions a gateway would use: hPa, km/h, dBm, kWh', () => {
    const convert = (unit: string, value: number) => {
      const s = SENML_SECONDARY_UNITS.get(unit)!;
      return s.scale * value + s.offset;
    };
    assert.equal(convert('hPa', 1013.25), 101325);
    assert.equal(convert('km/h', 36), 10);
    assert.equal(convert('dBm', 30), 0);
    assert.equal(convert('kWh', 1), 3_600_000);
  });
});
