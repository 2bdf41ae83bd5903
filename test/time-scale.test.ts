/**
 * `--time-scale` (docs/simulation.md, "Time that runs faster"): a ScaledClock runs the
 * simulated world N times faster; a module's worker sees the same time; the CoAP front puts
 * Max-Age in the device's seconds and Observe periods on the sensor's time, while
 * retransmissions stay on the network's real time.
 *
 * Real clocks, so every assertion is a relation that waiting longer cannot break: time read
 * between two readings of process.hrtime lies between their scaled values, a timer fires no
 * earlier than its scaled delay, counts over a window are compared with a loose ratio.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as wait } from 'node:timers/promises';
import { MAX_TIME_SCALE, ScaledClock, SystemClock, monotonicMs } from '../drivers/clock.ts';
import { errorMaxAge } from '../gateway/coap/error-response.ts';
import { freshMaxAge } from '../gateway/coap/reading-resource.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { GatewayError } from '../gateway/errors.ts';
import { silentLogger } from '../gateway/log.ts';
import { type GatewayConfig, defaultConfig } from '../gateway/service/config.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { RawClient, emptyMessage, observeRequest, pathOptions, requestDatagram, toResponse } from './helpers/coap-datagram.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';

const hr = (): bigint => process.hrtime.bigint();

/** A simulated TMP102 config: `settings` for the module (rateHz, mode), `pacing` as in the configuration. */
function simConfig(o: { settings?: Record<string, unknown>; pacing?: boolean } = {}): GatewayConfig {
  const config = defaultConfig({ driver: 'simulated', simCelsius: 21.5 });
  config.sensors[0]!.settings = o.settings ?? {};
  if (o.pacing !== undefined) config.sensors[0]!.pacing = o.pacing;
  return config;
}

/** The sensor's read until its first conversion is done (35 ms of simulated time at most). */
async function firstReading(service: SensorService, name = 'tmp102') {
  for (let i = 0; ; i++) {
    try {
      return await service.readFresh(name);
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'GW_ERR_SENSOR_NOT_READY' || i > 100) throw err;
      await wait(5);
    }
  }
}

describe('ScaledClock', () => {
  it('refuses a rate below 1, above MAX_TIME_SCALE, or not a number', () => {
    for (const rate of [0, 0.5, -2, MAX_TIME_SCALE + 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new ScaledClock(rate), RangeError, `rate ${rate}`);
    }
    assert.equal(new ScaledClock(MAX_TIME_SCALE).rate, MAX_TIME_SCALE);
    assert.equal(new ScaledClock(1).rate, 1);
  });

  for (const rate of [10, 2.5]) {
    it(`at rate ${rate}, monotonic and wall-clock time move rate times as far as real time`, async () => {
      const clock = new ScaledClock(rate);
      const h0 = hr();
      const m0 = clock.monotonicNs();
      const r0 = clock.realtimeNs();
      const h1 = hr();
      await wait(200);
      const h2 = hr();
      const m1 = clock.monotonicNs();
      const r1 = clock.realtimeNs();
      const h3 = hr();
      const least = (Number(h2 - h1) * rate) / 1e6;
      const most = (Number(h3 - h0) * rate) / 1e6;
      const dm = Number(m1 - m0) / 1e6;
      const dr = Number(r1 - r0) / 1e6;
      // 1 ns of rounding each way in the scaled values.
      assert.ok(dm >= least - 1e-5 && dm <= most + 1e-5, `monotonic moved ${dm} ms, real ${least / rate}..${most / rate} ms`);
      assert.ok(dr >= least - 1e-5 && dr <= most + 1e-5, `wall clock moved ${dr} ms, real ${least / rate}..${most / rate} ms`);
      assert.ok(dm >= 200 * rate * 0.95, `after a real 200 ms wait, ${dm} ms of simulated time`);
    });
  }

  it('wall-clock time starts at the real wall clock, or at startEpochMs', () => {
    const before = Date.now();
    const clock = new ScaledClock(100);
    const start = Number(clock.realtimeNs() / 1_000_000n);
    // Less than a real second after construction, so less than 100 simulated seconds on.
    assert.ok(start >= before - 1 && start < before + 100_000, `starts at ${start}, real ${before}`);
    const fixed = Date.UTC(2030, 0, 1);
    const fromFixed = Number(new ScaledClock(100, { startEpochMs: fixed }).realtimeNs() / 1_000_000n);
    assert.ok(fromFixed >= fixed && fromFixed < fixed + 100_000, `starts at ${new Date(fromFixed).toISOString()}`);
  });

  it('sleep blocks 1/rate of the time asked for, and the clock has moved on by it', { timeout: 20_000 }, () => {
    // 100 s of simulated time at rate 1000: 100 ms real. Unscaled, the test would time out.
    const clock = new ScaledClock(1000);
    const h0 = hr();
    const m0 = clock.monotonicNs();
    clock.sleep(100_000_000_000n);
    const slept = Number(clock.monotonicNs() - m0) / 1e6;
    const real = Number(hr() - h0) / 1e6;
    assert.ok(slept >= 100_000, `the clock moved ${slept} ms over the sleep`);
    assert.ok(real >= 95, `blocked ${real} ms of real time for 100 ms expected`);
  });

  it('schedule fires after ms/rate of real time, when the clock has moved ms; cancel stops it', { timeout: 20_000 }, async () => {
    const clock = new ScaledClock(1000);
    // The clock's timers never hold the process open (unref'd, like SystemClock's): this one does.
    const keepAlive = setTimeout(() => {}, 10_000);
    const m0 = monotonicMs(clock);
    // 100 simulated seconds: 100 ms real.
    const firedAt = await new Promise<number>((resolve) => clock.schedule(100_000, () => resolve(monotonicMs(clock))));
    clearTimeout(keepAlive);
    // Node may run a timer up to a millisecond early of its loop time: a real ms is 1000 simulated here.
    assert.ok(firedAt - m0 >= 100_000 - 1000, `fired after ${firedAt - m0} simulated ms`);

    let fired = false;
    const cancel = clock.schedule(10_000, () => (fired = true));
    cancel();
    await wait(40);
    assert.equal(fired, false, 'a cancelled timer never runs');
  });

  it('a clock built from share() in another place shows the same time', () => {
    const clock = new ScaledClock(7.5, { startEpochMs: Date.UTC(2030, 0, 1) });
    const copy = ScaledClock.sharing(clock.share());
    assert.equal(copy.rate, 7.5);
    const a = clock.monotonicNs();
    const b = copy.monotonicNs();
    const c = clock.monotonicNs();
    assert.ok(a <= b && b <= c, 'monotonic: the copy reads between two readings of the original');
    const ra = clock.realtimeNs();
    const rb = copy.realtimeNs();
    const rc = clock.realtimeNs();
    assert.ok(ra <= rb && rb <= rc, 'wall clock: the same');
  });
});

describe('a module in a worker thread on a ScaledClock', () => {
  it('stamps its readings with the same scaled time as the main thread', async () => {
    // A start far from today's date: a worker on a clock of its own could not land inside the bounds.
    const clock = new ScaledClock(10, { startEpochMs: Date.UTC(2030, 0, 1) });
    // Pacing off: every read reaches the module, so each timestamp is taken inside its bounds.
    const service = await SensorService.start(simConfig({ pacing: false }), { clock, logger: silentLogger, isolation: 'worker' });
    try {
      await firstReading(service);
      const stamp = async () => {
        const before = Number(clock.realtimeNs() / 1_000_000n);
        const { reading } = await service.readFresh('tmp102');
        const after = Number(clock.realtimeNs() / 1_000_000n);
        assert.ok(reading.timeMs >= before && reading.timeMs <= after, `the worker stamped ${new Date(reading.timeMs).toISOString()}, the main thread read ${new Date(before).toISOString()}..${new Date(after).toISOString()}`);
        return reading.timeMs;
      };
      const t0 = await stamp();
      const h0 = hr();
      await wait(200);
      const t1 = await stamp();
      const realMs = Number(hr() - h0) / 1e6;
      assert.ok(t1 - t0 >= 10 * 200 * 0.95, `timestamps ${t1 - t0} ms apart after ${realMs} real ms`);
      assert.equal((await service.readFresh('tmp102')).reading.value, 21.5);
    } finally {
      await service.close();
    }
  });
});

describe('Max-Age in the device\'s seconds', () => {
  it('freshMaxAge and errorMaxAge divide simulated milliseconds by the scale, then round up', () => {
    assert.equal(freshMaxAge(3990, 1), 4);
    assert.equal(freshMaxAge(3990, 2), 2);
    assert.equal(freshMaxAge(3990, 2.5), 2, '1.596 s');
    assert.equal(freshMaxAge(3990, 10), 1);
    assert.equal(freshMaxAge(25, 10), 1, 'never 0 for a fresh reading');
    assert.equal(freshMaxAge(0, 10), 1);
    assert.equal(freshMaxAge(3_600_000 * 20, 10), 3600, 'still capped at an hour');
    const nack = new GatewayError('GW_ERR_I2C_NACK');
    assert.equal(errorMaxAge('5.03', nack, 1), 5);
    assert.equal(errorMaxAge('5.03', nack, 10), 1, 'the default 5 s retry');
    assert.equal(errorMaxAge('5.03', new GatewayError('GW_ERR_SENSOR_QUARANTINED', { retryAfterMs: 60_000 }), 2.5), 24);
    assert.equal(errorMaxAge('5.00', new GatewayError('GW_ERR_MODULE_TRAP'), 10), 0, '0 stays 0');
    assert.equal(errorMaxAge('4.29', new GatewayError('GW_ERR_WRITE_RATE_LIMITED', { retryAfterMs: 3000 }), 10), 3, 'the network\'s 4.29 is not scaled');
    assert.equal(errorMaxAge('4.04', new GatewayError('GW_ERR_REQUEST_NOT_FOUND'), 10), 60);
  });
});

describe('GatewayServer on a ScaledClock at rate 10, over UDP', () => {
  let gw: TestGateway;
  let client: RawClient;

  before(async () => {
    // 0.25 Hz: a reading stays the latest for 4 simulated seconds, a Max-Age of 4 unscaled.
    gw = await startTestGateway({ clock: new ScaledClock(10), config: simConfig({ settings: { rateHz: 0.25 } }) });
    client = await RawClient.open('127.0.0.1', gw.port);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  const get = async (path: string) => {
    let res = await client.exchange(requestDatagram({ options: pathOptions(path) }), 3000);
    if (res?.code === '0.00') res = await client.next(3000).then((raw) => raw && toResponse(raw));
    assert.ok(res, `an answer to GET ${path}`);
    return res;
  };

  it('takes the clock\'s rate as its scale, and refuses a scale that contradicts it', async () => {
    assert.equal(gw.server.timeScale, 10);
    await assert.rejects(GatewayServer.start({ service: gw.service, logger: silentLogger, clock: new ScaledClock(10), timeScale: 5, host: '127.0.0.1', port: 0 }), RangeError);
    await assert.rejects(GatewayServer.start({ service: gw.service, logger: silentLogger, clock: new SystemClock(), timeScale: MAX_TIME_SCALE * 2, host: '127.0.0.1', port: 0 }), RangeError);
  });

  it('GET /temp: the Max-Age of a fresh read is its 4 simulated seconds in real seconds', async () => {
    // Past one period (400 real ms), the GET reads the chip again: fresh for about 4 simulated seconds.
    await wait(500);
    const res = await get('/temp');
    assert.equal(res.code, '2.05');
    assert.equal(res.maxAge, 1, 'ceil(4000 / 10 / 1000); unscaled it would be 4');
  });

  it('a 5.03 carries the retry time in real seconds: the default 5 s is 1 s at rate 10', async () => {
    const chip = gw.service.hardware.simulated.get('tmp102')!;
    chip.inject('nack');
    try {
      await wait(500);
      const res = await get('/temp');
      assert.equal(res.code, '5.03');
      assert.deepEqual(res.cbor, { code: 'GW_ERR_I2C_NACK' });
      assert.equal(res.maxAge, 1);
    } finally {
      chip.clearFault();
    }
  });
});

/**
 * NON notifications of /temp an observer gets in `windowMs` of real time at this rate. The
 * temperature is constant, so each is c.pmax's (half a second of the sensor's time).
 */
async function notificationsInWindow(rate: number, windowMs: number): Promise<number> {
  const gw = await startTestGateway({ clock: new ScaledClock(rate) });
  const client = await RawClient.open('127.0.0.1', gw.port);
  try {
    const token = Buffer.from([0x51, rate]);
    const reg = await client.exchange(observeRequest('/temp?c.pmax=0.5', { token, confirmable: false }), 3000);
    assert.equal(reg?.code, '2.05');
    assert.notEqual(reg?.observe, undefined, 'registered');
    client.drain();
    await wait(windowMs);
    const seen = client.takeAll().map(toResponse).filter((r) => r.code === '2.05' && r.observe !== undefined && r.packet.token.equals(token));
    for (const r of seen) assert.equal(r.maxAge, 1);
    return seen.length;
  } finally {
    await client.close();
    await gw.close();
  }
}

describe('Observe on scaled time', () => {
  it('an observer is notified about rate times as often as at rate 1', { timeout: 30_000 }, async () => {
    const atOne = await notificationsInWindow(1, 2000);
    const atTen = await notificationsInWindow(10, 2000);
    // Every 0.5 s of the sensor's time: about 4 in 2 s at rate 1, about 40 at rate 10. A loaded
    // machine delays the faster timers most, so the lower bound is loose.
    assert.ok(atOne >= 2, `${atOne} notifications at rate 1`);
    // Only "clearly more often": a loaded CI machine delays the faster timers most, and how much
    // more often is a benchmark's to measure, not a test's.
    assert.ok(atTen >= 2 * atOne && atTen >= atOne + 4, `${atTen} notifications at rate 10, ${atOne} at rate 1`);
    assert.ok(atTen <= 10 * (atOne + 2), `${atTen} notifications at rate 10, ${atOne} at rate 1`);
  });

  it('a CON notification to a silent client is retransmitted after the real ACK_TIMEOUT, not 1/rate of it', { timeout: 30_000 }, async () => {
    const ackTimeoutMs = 1000;
    const gw = await startTestGateway({ clock: new ScaledClock(10), observeTiming: { ackTimeoutMs }, random: () => 0 });
    const client = await RawClient.open('127.0.0.1', gw.port);
    try {
      const token = Buffer.from([0xc0, 0x4e]);
      // c.pmax: a notification every 0.2 s of the sensor's time though the temperature is constant.
      const reg = await client.exchange(observeRequest('/temp?c.pmax=0.2', { token, confirmable: true }), 3000);
      assert.equal(reg?.code, '2.05');
      // The registration's piggybacked ACK needs nothing back; the client then stays silent.
      const arrivals: { atMs: number; mid: number }[] = [];
      const h0 = hr();
      const deadline = 4 * ackTimeoutMs;
      while (arrivals.length < 2 && Number(hr() - h0) / 1e6 < deadline) {
        const raw = await client.next(deadline);
        if (raw === undefined) break;
        const r = toResponse(raw);
        if (r.packet.confirmable && r.packet.token.equals(token)) arrivals.push({ atMs: Number(hr() - h0) / 1e6, mid: r.packet.messageId });
      }
      assert.equal(arrivals.length, 2, 'a CON notification, then its retransmission');
      const gap = arrivals[1]!.atMs - arrivals[0]!.atMs;
      // At 1/rate it would come after 100 ms; the loop only ever delays it.
      assert.ok(gap >= ackTimeoutMs * 0.9, `retransmitted ${gap} real ms after the first, ACK_TIMEOUT ${ackTimeoutMs} ms`);
      // End it: a RST to the latest ends the observation (RFC 7641 section 3.6).
      client.send(emptyMessage('rst', arrivals[1]!.mid));
    } finally {
      await client.close();
      await gw.close();
    }
  });
});
