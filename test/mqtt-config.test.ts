/** The `mqtt` section of the configuration: defaults, paths, and every refusal naming its field (GW_ERR_CONFIG_INVALID). */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { GatewayError } from '../gateway/errors.ts';
import { BoundedBuffer } from '../gateway/mqtt/bounded-buffer.ts';
import { entitySlug } from '../gateway/mqtt/discovery.ts';
import { parseConfig } from '../gateway/service/config.ts';
import { MAX_BUFFER_SIZE, defaultGatewayId, parseMqtt } from '../gateway/service/uplink-config.ts';

const BASE = '/etc/coap-gateway';

function refused(v: unknown, field: string): void {
  assert.throws(() => parseMqtt(v, BASE), (err: unknown) => {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, 'GW_ERR_CONFIG_INVALID');
    assert.ok(String(err.details.detail).startsWith(`${field}:`), `${JSON.stringify(v)}: ${err.details.detail} should name ${field}`);
    return true;
  });
}

describe('mqtt configuration', () => {
  it('absent: no uplink', () => {
    assert.equal(parseMqtt(undefined, BASE), undefined);
  });

  it('fills in the defaults', () => {
    const id = defaultGatewayId(hostname());
    assert.deepEqual(parseMqtt({ url: 'mqtt://broker.local' }, BASE), {
      url: 'mqtt://broker.local',
      gatewayId: id,
      clientId: `coapgw-${id}`,
      topicPrefix: 'coapgw',
      qos: 1,
      bufferSize: 10_000,
      discovery: { enabled: true, prefix: 'homeassistant' },
    });
  });

  it('gatewayId default: the host name with every other character made "_"', () => {
    const machine = '3f2a9c0b1d2e3f4a5b6c7d8e9f0a1b2c';
    assert.equal(defaultGatewayId('raspberrypi', machine), 'raspberrypi-3f2a9c', 'a stock host name gets the machine id');
    assert.equal(defaultGatewayId('raspberrypi', null), 'raspberrypi', 'without a machine id');
    assert.equal(defaultGatewayId('pi.local', machine), 'pi_local');
    assert.equal(defaultGatewayId('küche pi', machine), 'k_che_pi');
    assert.equal(defaultGatewayId('', machine), 'gateway-3f2a9c');
    assert.match(defaultGatewayId(), /^[A-Za-z0-9_-]+$/);
  });

  it('takes every field, and resolves paths against the configuration file\'s directory', () => {
    const c = parseMqtt({
      url: 'mqtts://[::1]:8883', gatewayId: 'living-room', clientId: 'gw1', username: 'gw', passwordFile: 'secrets/mqtt-password',
      ca: '/etc/ssl/ca.pem', cert: 'tls/cert.pem', key: 'tls/key.pem', topicPrefix: 'home/sensors', qos: 0, bufferSize: 50,
      discovery: { enabled: false, prefix: 'ha' },
    }, BASE);
    assert.deepEqual(c, {
      url: 'mqtts://[::1]:8883', gatewayId: 'living-room', clientId: 'gw1', username: 'gw', passwordFile: path.join(BASE, 'secrets/mqtt-password'),
      ca: '/etc/ssl/ca.pem', cert: path.join(BASE, 'tls/cert.pem'), key: path.join(BASE, 'tls/key.pem'), topicPrefix: 'home/sensors', qos: 0, bufferSize: 50,
      discovery: { enabled: false, prefix: 'ha' },
    });
  });

  it('refuses each invalid field by name', () => {
    refused('mqtt://x', 'mqtt');
    refused({}, 'mqtt.url');
    refused({ url: 'http://broker' }, 'mqtt.url');
    refused({ url: 'broker:1883' }, 'mqtt.url');
    refused({ url: 'mqtt://user:pw@broker' }, 'mqtt.url');
    refused({ url: 'mqtt://broker/topic' }, 'mqtt.url');
    refused({ url: 'mqtt://broker', extra: 1 }, 'mqtt.extra');
    refused({ url: 'mqtt://broker', gatewayId: 'has space' }, 'mqtt.gatewayId');
    refused({ url: 'mqtt://broker', gatewayId: 'a/b' }, 'mqtt.gatewayId');
    refused({ url: 'mqtt://broker', gatewayId: '+' }, 'mqtt.gatewayId');
    refused({ url: 'mqtt://broker', clientId: '' }, 'mqtt.clientId');
    refused({ url: 'mqtt://broker', clientId: 'a b' }, 'mqtt.clientId');
    refused({ url: 'mqtt://broker', username: 3 }, 'mqtt.username');
    refused({ url: 'mqtt://broker', passwordFile: 'pw' }, 'mqtt.passwordFile');
    refused({ url: 'mqtt://broker', username: 'u', passwordFile: '' }, 'mqtt.passwordFile');
    refused({ url: 'mqtt://broker', ca: 'ca.pem' }, 'mqtt.ca');
    refused({ url: 'mqtts://broker', cert: 'c.pem' }, 'mqtt.key');
    refused({ url: 'mqtts://broker', key: 'k.pem' }, 'mqtt.cert');
    refused({ url: 'mqtt://broker', topicPrefix: 'a/#' }, 'mqtt.topicPrefix');
    refused({ url: 'mqtt://broker', topicPrefix: '$SYS' }, 'mqtt.topicPrefix');
    refused({ url: 'mqtt://broker', topicPrefix: 'a/' }, 'mqtt.topicPrefix');
    refused({ url: 'mqtt://broker', topicPrefix: '' }, 'mqtt.topicPrefix');
    refused({ url: 'mqtt://broker', qos: 2 }, 'mqtt.qos');
    refused({ url: 'mqtt://broker', qos: '1' }, 'mqtt.qos');
    refused({ url: 'mqtt://broker', bufferSize: 0 }, 'mqtt.bufferSize');
    refused({ url: 'mqtt://broker', bufferSize: 1.5 }, 'mqtt.bufferSize');
    refused({ url: 'mqtt://broker', bufferSize: MAX_BUFFER_SIZE + 1 }, 'mqtt.bufferSize');
    refused({ url: 'mqtt://broker', discovery: true }, 'mqtt.discovery');
    refused({ url: 'mqtt://broker', discovery: { enabled: 'yes' } }, 'mqtt.discovery.enabled');
    refused({ url: 'mqtt://broker', discovery: { prefix: 'a+b' } }, 'mqtt.discovery.prefix');
    refused({ url: 'mqtt://broker', discovery: { topic: 'x' } }, 'mqtt.discovery.topic');
    refused({ url: 'mqtt://broker', topicPrefix: 'same', discovery: { prefix: 'same' } }, 'mqtt.discovery.prefix');
  });

  it('is read as part of the configuration file', () => {
    const c = parseConfig({ sensors: [{ name: 'tmp102' }], mqtt: { url: 'mqtt://127.0.0.1:1883', gatewayId: 'pi' } }, BASE);
    assert.equal(c.mqtt?.gatewayId, 'pi');
    assert.throws(() => parseConfig({ sensors: [{ name: 'tmp102' }], mqtt: { url: 'mqtt://127.0.0.1', qos: 3 } }, BASE), { code: 'GW_ERR_CONFIG_INVALID' });
  });
});

describe('the uplink buffer', () => {
  it('drops the oldest past its capacity, and puts unacknowledged items back in front in order', () => {
    const b = new BoundedBuffer<number>(3);
    assert.equal(b.push(1), undefined);
    b.push(2);
    b.push(3);
    assert.equal(b.push(4), 1, 'the oldest is dropped');
    assert.equal(b.shift(), 2);
    assert.equal(b.shift(), 3);
    // 2 and 3 were in flight and not acknowledged: back in front of 4, in their order.
    assert.deepEqual(b.unshiftAll([2, 3]), []);
    assert.deepEqual([b.shift(), b.shift(), b.shift(), b.shift()], [2, 3, 4, undefined]);
    b.push(5);
    b.push(6);
    assert.deepEqual(b.unshiftAll([1, 2, 3]), [1, 2], 'past the capacity the oldest returned ones are dropped');
    assert.deepEqual([b.shift(), b.shift(), b.shift()], [3, 5, 6]);
    assert.equal(b.length, 0);
  });
});

describe('Home Assistant entity ids', () => {
  it('are what Home Assistant accepts: lower case, [a-z0-9_], no leading, trailing or double underscore', () => {
    const valid = /^(?!.+__)(?!_)[\da-z_]+(?<!_)$/;
    for (const [text, slug] of [['gw-basic_tmp102', 'gw_basic_tmp102'], ['Pi.Local__Temp-1', 'pi_local_temp_1'], ['pi_local_', 'pi_local'], ['---', 'sensor']] as const) {
      assert.equal(entitySlug(text), slug);
      assert.match(entitySlug(text), valid);
    }
  });
});
