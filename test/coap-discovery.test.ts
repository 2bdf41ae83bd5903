import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../gateway/service/config.ts';
import { RawClient, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

// /temp is the simulated chip; /temp/outside stands for real hardware (asRealHardware).
const READING = (href: string) => `<${href}>;rt="temperature";if="core.s";ct="60 112 110 50 0";obs${href === '/temp' ? ';sim=1' : ''}`;
const ALERT = (href: string) => `<${href}>;rt="gw.alert";if="core.p";ct="60 50"`;
const STATS = '</gw/stats>;rt="gw.stats";ct="60 50"';
const LINK = (href: string) => (href === '/gw/stats' ? STATS : href.endsWith('/alert') ? ALERT(href) : READING(href));

describe('/.well-known/core (RFC 6690)', () => {
  let gw: TestGateway;
  let client: RawClient;
  before(async () => {
    const config = defaultConfig({ driver: 'simulated', simCelsius: 20 });
    config.sensors.push({ ...config.sensors[0]!, name: 'outside', path: '/temp/outside', address: 0x49, grant: { bus: 1, addresses: [0x49] }, simulation: { kind: 'constant', celsius: -3.5 } });
    gw = await startTestGateway({ config, simulated: { real: ['outside'] } });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client.close();
    await gw.close();
  });

  async function discover(query = '', accept?: number) {
    const res = await client.exchange(requestDatagram({ options: [...pathOptions(`/.well-known/core${query}`), ...(accept === undefined ? [] : [{ name: 'Accept', value: uint(accept) }])] }));
    assert.ok(res);
    return res;
  }

  it('lists each sensor (observable), its alert settings and the statistics, in link-format, with Max-Age', async () => {
    const res = await discover();
    assert.equal(res.code, '2.05');
    assert.equal(res.contentFormat, 40);
    assert.ok(res.maxAge! > 0);
    assert.equal(res.packet.payload.toString(), ['/temp', '/temp/outside', '/temp/alert', '/temp/outside/alert', '/gw/stats'].map(LINK).join(','));
  });

  it('serves each sensor at its path', async () => {
    const res = await client.exchange(requestDatagram({ options: pathOptions('/temp/outside') }));
    assert.deepEqual([res?.code, (res?.cbor as { sensor: string; value: number }).sensor, (res?.cbor as { value: number }).value], ['2.05', 'outside', -3.5]);
  });

  it('filters by href, rt, if and ct, with * prefix matching', async () => {
    const cases: [string, string[]][] = [
      ['?href=/temp', ['/temp']],
      ['?href=/temp*', ['/temp', '/temp/outside', '/temp/alert', '/temp/outside/alert']],
      ['?href=/temp/o*', ['/temp/outside', '/temp/outside/alert']],
      ['?rt=temperature', ['/temp', '/temp/outside']],
      ['?rt=temp*', ['/temp', '/temp/outside']],
      ['?rt=humidity', []],
      ['?if=core.s', ['/temp', '/temp/outside']],
      ['?if=core.a*', []],
      ['?ct=112', ['/temp', '/temp/outside']],
      ['?ct=41', []],
      ['?obs', ['/temp', '/temp/outside']],
      ['?rt=gw.stats', ['/gw/stats']],
      ['?rt=gw.*', ['/temp/alert', '/temp/outside/alert', '/gw/stats']],
      ['?rt=temperature&href=/temp/outside', ['/temp/outside']],
      ['?sim=1', ['/temp']],
      ['?sim=*', ['/temp']],
      ['?rt=temperature&sim=1', ['/temp']],
    ];
    for (const [q, hrefs] of cases) {
      const res = await discover(q);
      assert.equal(res.code, '2.05', q);
      assert.equal(res.packet.payload.toString(), hrefs.map(LINK).join(','), q);
    }
  });

  it('marks the sensor a simulated chip answers for with sim=1, and only that one', async () => {
    const links = (await discover()).packet.payload.toString().split(',');
    assert.deepEqual(links.filter((l) => /;sim=1(;|$)/.test(l)).map((l) => l.slice(1, l.indexOf('>'))), ['/temp']);
  });

  it('answers 4.06 to an Accept other than link-format', async () => {
    assert.equal((await discover('', 60)).code, '4.06');
    assert.equal((await discover('', 40)).code, '2.05');
  });
});
