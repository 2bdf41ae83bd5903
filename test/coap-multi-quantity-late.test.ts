/**
 * A multi-quantity sensor whose chip is absent while the gateway starts (found by review): its
 * module cannot announce its quantities then, so the router first serves it as one reading; once
 * the module starts, the sensor is served as what it announced (the pack, a resource per
 * quantity, discovery), from the first answer on, without a restart.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Decoder } from 'cbor-x';
import { RawClient, observeRequest, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
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
    // A quantity's path answers the sensor's failure too, not a 4.04 a proxy would keep a minute.
    const quantityAbsent = await get('/env/humidity');
    assert.equal(quantityAbsent.code, '5.03');
    // Discovery is short-lived while a sensor has not said what it serves.
    const early = await get('/.well-known/core');
    assert.equal(early.maxAge, 60);
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

  it('an Observe registration after the chip came back observes the pack, not a stand-in', async () => {
    const late = await startMultiQuantityGateway({ unpluggedAtStart: true });
    const observer = await RawClient.open('127.0.0.1', late.port);
    try {
      late.sht3x.clearFault();
      late.clock.advanceMs(5_000);
      const reg = await observer.exchange(observeRequest('/env', { token: Buffer.from([7, 7]), accept: 110 }), 3000);
      assert.equal(reg?.code, '2.05');
      assert.notEqual(reg.observe, undefined, 'registered');
      const pack = JSON.parse(Buffer.from(reg.packet.payload).toString()) as Array<{ n: string }>;
      assert.deepEqual(pack.map((r) => r.n), ['temperature', 'humidity']);
      const links = await observer.exchange(requestDatagram({ options: pathOptions('/.well-known/core') }), 3000);
      assert.equal(links?.maxAge, 3600, 'settled: discovery is long-lived again');
    } finally {
      await observer.close();
      await late.close();
    }
  });
});
