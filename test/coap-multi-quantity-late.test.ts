/**
 * A multi-quantity sensor whose chip is absent while the gateway starts (found by review): its
 * module cannot announce its quantities then, so the router first serves it as one reading; once
 * the module starts, the sensor is served as what it announced (the pack, a resource per
 * quantity, discovery), from the first answer on, without a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { RawClient, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type MultiQuantityGateway, expected, startMultiQuantityGateway } from './helpers/multi-quantity-gateway.ts';

const cbor = (b: Uint8Array) => new Decoder({ mapsAsObjects: false }).decode(b);

describe('a multi-quantity sensor absent at start-up', () => {
  let gw: MultiQuantityGateway;
  let client: RawClient;
  before(async () => {
    gw = await startMultiQuantityGateway({ unpluggedAtStart: true });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  const get = async (path: string, accept?: number) => {
    const options = [...pathOptions(path), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])];
    const res = await client.exchange(requestDatagram({ options }), 3000);
    assert.ok(res, `no response to ${path}`);
    return res;
  };

  it('answers 5.03 while the chip is absent, then the pack and each quantity once it is back', async () => {
    const absent = await get('/env');
    assert.equal(absent.code, '5.03');
    gw.sht3x.clearFault();
    gw.clock.advanceMs(5_000); // past the failure's retry time and the chip's power-up
    const first = await get('/env', 110);
    assert.equal(first.code, '2.05', `first answer after the chip came back: ${first.code}`);
    const pack = JSON.parse(Buffer.from(first.packet.payload).toString()) as Array<{ n: string; v: number }>;
    const want = expected(25, 40);
    assert.deepEqual(pack.map((r) => [r.n, r.v]), [['temperature', want.temperature], ['humidity', want.humidity]], 'the first answer is already the pack');
    const humidity = await get('/env/humidity', 60);
    assert.equal(humidity.code, '2.05');
    assert.equal((cbor(humidity.packet.payload) as Map<string, unknown>).get('value'), want.humidity);
    const links = Buffer.from((await get('/.well-known/core')).packet.payload).toString();
    assert.match(links, /<\/env>;[^,]*quantities="temperature humidity"/);
    assert.match(links, /<\/env\/humidity>;rt="humidity"/);
  });
});
