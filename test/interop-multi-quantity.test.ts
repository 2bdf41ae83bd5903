/**
 * Interop of a multi-quantity sensor (module ABI 1.1): libcoap 4.3.1's coap-client-notls (C) and
 * aiocoap's aiocoap-client (Python) read the SHT3x module's pack at /env, on the simulated
 * SHT3x-DIS at 25 °C and 40 %RH, as SenML-CBOR (112), SenML-JSON (110) and the CBOR map (60),
 * and one quantity at /env/humidity. The bytes each peer wrote are decoded by an independent
 * decoder, Python's cbor2 (the CBOR library aiocoap itself depends on), not by the gateway's
 * code or by cbor-x, and every value is compared with what the chip's 16-bit words give to the
 * LSB (SHT3x-DIS section 4.13). aiocoap's link-format parser reads the discovery entries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type MultiQuantityGateway, expected, startMultiQuantityGateway } from './helpers/multi-quantity-gateway.ts';
import { AIOCOAP_CLIENT, AIOCOAP_HINT, LIBCOAP_CLIENT, LIBCOAP_HINT, type PeerExchange, aiocoapParseLinks, aiocoapRequest, libcoapRequest, peerOrSkip, runProcess, skipOrFail } from './helpers/peers.ts';

const AIR = expected(25, 40);

/**
 * cbor2 turns the payload into JSON that keeps what JSON cannot say plainly: a map is
 * {"map": [[key, value], ...]} in the payload's order, so SenML's integer labels stay integers.
 */
const CBOR2_TO_JSON_PY = `
import json, sys
import cbor2
def plain(x):
    if isinstance(x, dict): return {"map": [[plain(k), plain(v)] for k, v in x.items()]}
    if isinstance(x, list): return [plain(i) for i in x]
    return x
print(json.dumps(plain(cbor2.loads(bytes.fromhex(sys.argv[1])))))
`;

type Plain = null | boolean | number | string | Plain[] | { map: [Plain, Plain][] };

/** The payload decoded by cbor2; undefined after skipping (or, under COAP_INTEROP_REQUIRED=1, failing) when cbor2 is missing. */
async function cbor2Decode(t: TestContext, payload: Buffer): Promise<Plain | undefined> {
  const result = await runProcess('python3', ['-c', CBOR2_TO_JSON_PY, payload.toString('hex')]);
  if (result.exitCode !== 0 && /No module named 'cbor2'/.test(result.stderr)) return skipOrFail(t, "python3 has no cbor2 (pip install cbor2; aiocoap's OSCORE extra brings it)");
  assert.equal(result.exitCode, 0, `cbor2 could not decode ${payload.toString('hex')}: ${result.stderr}`);
  return JSON.parse(result.stdout.toString('utf8')) as Plain;
}

function entries(m: Plain): [Plain, Plain][] {
  assert.ok(m !== null && typeof m === 'object' && !Array.isArray(m), `not a map: ${JSON.stringify(m)}`);
  return m.map;
}

/** Checks a SenML pack (as cbor2 decoded it) record by record against the air's values. */
function assertPack(pack: Plain | undefined): void {
  assert.ok(Array.isArray(pack) && pack.length === 2, JSON.stringify(pack));
  const [first, second] = pack.map(entries) as [[Plain, Plain][], [Plain, Plain][]];
  assert.deepEqual(first.map(([k]) => k), [-2, -3, 0, 1, 2, 'sim_']);
  const bt = first[1]![1];
  assert.ok(typeof bt === 'number' && bt > 1.7e9, `bt ${String(bt)}`);
  assert.deepEqual(first.filter(([k]) => k !== -3), [[-2, 'env/'], [0, 'temperature'], [1, 'Cel'], [2, AIR.temperature], ['sim_', true]]);
  assert.deepEqual(second, [[0, 'humidity'], [1, '%RH'], [2, AIR.humidity], ['sim_', true]], 'bn and bt only on the first record (RFC 8428 section 4.5)');
}

/** Checks the CBOR map {sensor, time, sim, values} (as cbor2 decoded it). */
function assertMap(map: Plain | undefined): void {
  if (map === undefined) return;
  const m = entries(map);
  assert.deepEqual(m.map(([k]) => k), ['sensor', 'time', 'sim', 'values']);
  assert.equal(m[0]![1], 'env');
  assert.equal(m[2]![1], true);
  const values = entries(m[3]![1]).map(([q, v]) => [q, entries(v)]);
  assert.deepEqual(values, [
    ['temperature', [['value', AIR.temperature], ['unit', 'Cel']]],
    ['humidity', [['value', AIR.humidity], ['unit', '%RH']]],
  ]);
}

function assertSenmlJson(payload: Buffer): void {
  const pack = JSON.parse(payload.toString('utf8')) as Record<string, unknown>[];
  assert.equal(pack.length, 2);
  assert.deepEqual({ ...pack[0], bt: 0 }, { bn: 'env/', bt: 0, n: 'temperature', u: 'Cel', v: AIR.temperature, sim_: true });
  assert.deepEqual(pack[1], { n: 'humidity', u: '%RH', v: AIR.humidity, sim_: true });
}

const PEERS = [
  { name: LIBCOAP_CLIENT, hint: LIBCOAP_HINT, request: (bin: string, url: string, accept: number) => libcoapRequest(bin, { url, accept }) },
  { name: AIOCOAP_CLIENT, hint: AIOCOAP_HINT, request: (bin: string, url: string, accept: number) => aiocoapRequest(bin, { url, accept }) },
];

describe('libcoap and aiocoap read a multi-quantity sensor (the SHT3x module on its simulated chip)', () => {
  let gw: MultiQuantityGateway;
  let base: string;
  before(async () => {
    gw = await startMultiQuantityGateway();
    base = `coap://127.0.0.1:${gw.port}`;
  });
  after(() => gw?.close());

  for (const peer of PEERS) {
    const fetch = async (t: TestContext, path: string, accept: number): Promise<PeerExchange | undefined> => {
      const bin = peerOrSkip(t, peer.name, peer.hint);
      if (!bin) return undefined;
      const res = await peer.request(bin, `${base}${path}`, accept);
      assert.equal(res.process.timedOut, false);
      assert.equal(res.code, '2.05', `${res.process.stdout.toString()}\n${res.process.stderr}`);
      return res;
    };

    it(`${peer.name}: GET /env with Accept 112 (SenML-CBOR) is a pack of both quantities, decoded by cbor2`, async (t) => {
      const res = await fetch(t, '/env', 112);
      if (!res) return;
      const pack = await cbor2Decode(t, res.payload);
      if (pack !== undefined) assertPack(pack);
    });

    it(`${peer.name}: GET /env with Accept 60 (CBOR) is the map of both quantities, decoded by cbor2`, async (t) => {
      const res = await fetch(t, '/env', 60);
      if (!res) return;
      assertMap(await cbor2Decode(t, res.payload));
    });

    it(`${peer.name}: GET /env with Accept 110 (SenML-JSON) is the same pack in JSON`, async (t) => {
      const res = await fetch(t, '/env', 110);
      if (!res) return;
      assertSenmlJson(res.payload);
    });

    it(`${peer.name}: GET /env/humidity with Accept 112 is one record, as a single reading`, async (t) => {
      const res = await fetch(t, '/env/humidity', 112);
      if (!res) return;
      const pack = await cbor2Decode(t, res.payload);
      if (pack === undefined) return;
      assert.ok(Array.isArray(pack) && pack.length === 1, JSON.stringify(pack));
      assert.deepEqual(entries(pack[0]!).filter(([k]) => k !== -3), [[-2, 'env/'], [0, 'humidity'], [1, '%RH'], [2, AIR.humidity], ['sim_', true]]);
    });
  }

  it("aiocoap's link-format parser reads the pack's and each quantity's discovery entries", async (t) => {
    const bin = peerOrSkip(t, AIOCOAP_CLIENT, AIOCOAP_HINT);
    if (!bin) return;
    const res = await aiocoapRequest(bin, { url: `${base}/.well-known/core?href=/env*`, accept: 40 });
    assert.equal(res.code, '2.05', res.process.stderr);
    const links = await aiocoapParseLinks(res.payload.toString('utf8'));
    const byHref = new Map(links.map((l) => [l.href, Object.fromEntries(l.attributes)]));
    assert.deepEqual([...byHref.keys()], ['/env', '/env/temperature', '/env/humidity']);
    assert.equal(byHref.get('/env')!['rt'], 'gw.sensor');
    assert.equal(byHref.get('/env')!['quantities'], 'temperature humidity');
    assert.deepEqual([byHref.get('/env/humidity')!['rt'], byHref.get('/env/humidity')!['u'], byHref.get('/env/humidity')!['ct']], ['humidity', '%RH', '60 112 110 50 0']);
    assert.deepEqual([byHref.get('/env/temperature')!['rt'], byHref.get('/env/temperature')!['u']], ['temperature', 'Cel']);
  });
});
