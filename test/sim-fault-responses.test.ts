/**
 * What a device's tester checks against (issue 16 part 4, docs/simulation.md "What each fault
 * does to a device"): one test per row of that table. Each fault is driven only through the
 * public interface, POST /gw/sim over UDP, on the real gateway process; what a device sees is
 * read over UDP: GET /temp (code, catalogue code, Max-Age), an observer of /temp (the error
 * notification that ends the observation, RFC 7641 section 4.2, or nothing, or a notification
 * of the new value), what comes back when the fault ends, and /gw/sim and /gw/stats.
 *
 * Every row runs at --time-scale 1 and 10: Max-Age is the sensor's retry time in real seconds
 * (docs/simulation.md "Time that runs faster"), so a 5.03's 5 s becomes 1 at x10.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { type GatewayProcess, spawnGatewayProcess } from './helpers/gateway-process.ts';
import { RawClient, type Response, block2Of, block2Value, emptyMessage, observeRequest, pathOptions, requestDatagram, toResponse, uint } from './helpers/coap-datagram.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The TMP102 module's default rate, 4 Hz (SBOS397 "Conversion Rate"): one reading per 250 ms of sensor time. */
const PERIOD_MS = 250;
/** SBOS397 Electrical Characteristics: a conversion takes at most 35 ms. */
const CONVERSION_MS = 35;
/** How long a test waits for something that must come (generous: a shared, noisy machine). */
const PATIENCE_MS = 5000;
const START_C = 21.5;

interface Answer {
  code: string;
  /** The reading's value on 2.05, the catalogue code otherwise. */
  what: number | string | undefined;
  maxAge: number | undefined;
}

function answerOf(r: Response): Answer {
  const body = r.cbor as { value?: number; code?: string } | undefined;
  return { code: r.code, what: r.code === '2.05' ? body?.value : body?.code, maxAge: r.maxAge };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The gateway process on the simulated TMP102 at START_C, and what a device does to it over UDP. */
class Gateway {
  readonly scale: number;
  readonly #proc: GatewayProcess;
  readonly #client: RawClient;
  readonly port: number;
  #nextSource = 0;

  private constructor(scale: number, proc: GatewayProcess, port: number, client: RawClient) {
    this.scale = scale;
    this.#proc = proc;
    this.port = port;
    this.#client = client;
  }

  static async start(scale: number): Promise<Gateway> {
    const proc = spawnGatewayProcess(
      [process.execPath, 'gateway/cli/launch.mjs', 'start', '--host', '127.0.0.1', '--port', '0', '--no-watch', '--sim-temp', String(START_C), '--time-scale', String(scale)],
      { cwd: REPO },
    );
    await proc.waitFor(/listening on udp/);
    const port = proc.port();
    return new Gateway(scale, proc, port, await RawClient.open('127.0.0.1', port));
  }

  /** Real milliseconds for `ms` of the sensor's time. */
  real(ms: number): number {
    return ms / this.scale;
  }

  async get(path: string): Promise<Response> {
    const r = await this.#client.exchange(requestDatagram({ options: pathOptions(path) }), 3000);
    if (!r) throw new Error(`no answer to GET ${path}`);
    return r;
  }

  async temp(): Promise<Answer> {
    return answerOf(await this.get('/temp'));
  }

  /** PUT /temp/alert with a CBOR map (Content-Format 60). */
  async putAlert(changes: Record<string, unknown>): Promise<Response> {
    const options = [...pathOptions('/temp/alert'), { name: 'Content-Format', value: uint(60) }];
    const r = await this.#client.exchange(requestDatagram({ code: '0.03', options, payload: cborEncode(changes) }), 3000);
    if (!r) throw new Error('no answer to PUT /temp/alert');
    return r;
  }

  async alertSettings(): Promise<unknown> {
    return (await this.get('/temp/alert')).cbor;
  }

  /** Warn lines of the TMP102 module that it found the limits reset and wrote them back (wasm-src/tmp102/reset.go). */
  restoredLines(): number {
    return (this.#proc.out() + this.#proc.err()).match(/chip reset detected: T_HIGH 0x5000, expected 0x1e00; settings restored/g)?.length ?? 0;
  }

  /**
   * POST /gw/sim in JSON, answered in JSON. Each command from its own loopback address: the
   * per-client write limit (2/s, burst 10) is the write limiter's business, not this file's, and
   * all of 127.0.0.0/8 is loopback, which the default access policy lets in.
   */
  async sim(command: Record<string, unknown>): Promise<SimAnswer> {
    const source = await RawClient.open('127.0.0.1', this.port, `127.0.0.${2 + (this.#nextSource++ % 250)}`);
    try {
      const options = [...pathOptions('/gw/sim'), { name: 'Content-Format', value: uint(50) }, { name: 'Accept', value: uint(50) }];
      const r = await source.exchange(requestDatagram({ code: '0.02', options, payload: Buffer.from(JSON.stringify(command)) }), 3000);
      assert.equal(r?.code, '2.04', `${JSON.stringify(command)}: ${r?.code} ${r?.packet.payload.toString()}`);
      return JSON.parse(r.packet.payload.toString()) as SimAnswer;
    } finally {
      await source.close();
    }
  }

  /** A representation that may come in blocks (RFC 7959 section 2.4: /gw/sim and /gw/stats grow with the ring of changes), decoded. */
  async getWhole(path: string): Promise<unknown> {
    const parts: Buffer[] = [];
    for (let num = 0; num < 64; num++) {
      const r = await this.#client.exchange(requestDatagram({ options: [...pathOptions(path), { name: 'Block2', value: block2Value(num, 6) }] }), 3000);
      assert.equal(r?.code, '2.05', `GET ${path} block ${num}`);
      parts.push(r.packet.payload);
      if (!block2Of(r)?.more) break;
    }
    return cborDecode(Buffer.concat(parts));
  }

  async simState(): Promise<SimState> {
    return (await this.getWhole('/gw/sim')) as SimState;
  }

  async stats(): Promise<Stats> {
    return (await this.getWhole('/gw/stats')) as Stats;
  }

  /** GET /temp every 20 ms until `done` says so; every answer, in order (the last one matched). */
  async pollTemp(done: (a: Answer) => boolean): Promise<Answer[]> {
    const seen: Answer[] = [];
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const a = await this.temp();
      seen.push(a);
      if (done(a)) return seen;
      if (Date.now() > deadline) assert.fail(`GET /temp never got there: ${JSON.stringify(seen.slice(-5))}`);
      await sleep(20);
    }
  }

  /** Back to a plain chip at START_C: nothing injected, nothing held, readings flowing. */
  async normal(): Promise<void> {
    await this.sim({ op: 'clear' });
    await this.sim({ op: 'release' });
    await this.pollTemp((a) => a.code === '2.05' && a.what === START_C);
  }

  async close(): Promise<void> {
    await this.#client.close();
    this.#proc.child.kill('SIGTERM');
    assert.equal(await this.#proc.exited, 0, this.#proc.err());
  }
}

interface SensorState {
  celsius: number;
  fault: string | null;
  temperatureOverride: number | null;
  faultOverride: { fault: string; untilScenarioMs: number | null } | null;
  resets: number;
}
interface SimState {
  timeScale: number;
  sensors: { tmp102: SensorState };
  changes: Array<{ source: string; sensor?: string; what: string }>;
}
interface SimAnswer extends Omit<SimState, 'changes'> {
  change: { sensor: string; what: string };
}
interface Stats {
  observers: number;
  sensors: { tmp102: { alertEdges: number } };
  requests: Record<string, number>;
  notifications: Record<string, number>;
  simulation: Omit<SimState, 'changes'>;
}

/** An RFC 7641 observer of /temp on its own socket, acknowledging CON notifications as a device does. */
class Observer {
  readonly token: Buffer;
  readonly seen: Response[] = [];
  readonly #client: RawClient;
  #pumping = true;

  private constructor(client: RawClient, token: Buffer) {
    this.#client = client;
    this.token = token;
  }

  static async register(gw: Gateway, token: number): Promise<Observer> {
    const client = await RawClient.open('127.0.0.1', gw.port);
    const o = new Observer(client, Buffer.from([0x0b, token]));
    const first = await client.exchange(observeRequest('/temp', { token: o.token }), 3000);
    assert.equal(first?.code, '2.05', 'the registration is answered with the current reading');
    assert.notEqual(first.observe, undefined, 'and registers (Observe option present)');
    void o.#pump();
    return o;
  }

  async #pump(): Promise<void> {
    while (this.#pumping) {
      const raw = await this.#client.next(100);
      if (!raw) continue;
      const r = toResponse(raw);
      if (r.packet.confirmable) this.#client.send(emptyMessage('ack', r.packet.messageId));
      this.seen.push(r);
    }
  }

  /** The first notification from `from` on that `match`es, waiting for it. */
  async waitFor(match: (r: Response) => boolean, from = 0): Promise<Response> {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const hit = this.seen.slice(from).find(match);
      if (hit) return hit;
      if (Date.now() > deadline) assert.fail(`no such notification; seen: ${JSON.stringify(this.seen.map(answerOf))}`);
      await sleep(20);
    }
  }

  /** Deregisters (RFC 7641 section 3.6: GET with Observe=1 and the same token) if still registered, then closes. */
  async close(): Promise<void> {
    this.#client.send(observeRequest('/temp', { observe: 1, token: this.token }));
    await sleep(120);
    this.#pumping = false;
    await sleep(120);
    await this.#client.close();
  }
}

/** The error faults: 5.03 with the catalogue code of the bus failure the module saw. */
const ERROR_FAULTS = [
  { fault: 'nack', code: 'GW_ERR_I2C_NACK' },
  { fault: 'bus-error', code: 'GW_ERR_I2C_BUS' },
  { fault: 'timeout', code: 'GW_ERR_I2C_TIMEOUT' },
] as const;

/**
 * Max-Age of a 5.03 for a bus failure: the gateway's default retry time, 5 s of sensor time
 * (error-response.ts DEFAULT_RETRY_AFTER_S), in real seconds, rounded up, at least 1.
 */
const busErrorMaxAge = (scale: number) => Math.max(1, Math.ceil(5 / scale));

/**
 * Max-Age is checked apart and last, so that a wrong Max-Age does not hide the rest of a row:
 * `expectAnswer` compares code and catalogue code (or value) at once and notes a Max-Age that
 * differs; each row ends with `assert.deepEqual(maxAges, [])`.
 */
function expectAnswer(actual: Answer | undefined, expected: Answer, maxAges: string[], where: string): void {
  assert.ok(actual, `${where}: no answer`);
  assert.deepEqual({ code: actual.code, what: actual.what }, { code: expected.code, what: expected.what }, where);
  const note = `${where}: ${actual.code} ${String(actual.what)} Max-Age ${actual.maxAge}, documented ${expected.maxAge}`;
  if (actual.maxAge !== expected.maxAge && !maxAges.includes(note)) maxAges.push(note);
}

const NOT_READY: Answer = { code: '5.03', what: 'GW_ERR_SENSOR_NOT_READY', maxAge: 1 };

/**
 * After a fault ends. A failed read is reused for one conversion period (paced-reader.ts), so
 * the fault's 5.03 may still be the answer for up to 250 ms of sensor time. Then the module
 * re-configures the chip it lost (wasm-src/tmp102/driver.go: it cannot tell a glitch from a
 * power cycle) and waits out the first conversion: 5.03 GW_ERR_SENSOR_NOT_READY, Max-Age 1 (35 ms
 * rounded up), then readings; never the 0 °C a freshly powered chip holds before its first
 * conversion (SBOS397 "Power-Up").
 */
function expectRecovery(after: Answer[], fault: Answer, celsius: number, maxAges: string[]): void {
  const seq = JSON.stringify(after);
  let i = 0;
  while (after[i]?.what === fault.what) expectAnswer(after[i++], fault, maxAges, "the fault's answer, still fresh");
  assert.equal(after[i]?.what, NOT_READY.what, `the first read after the fault: ${seq}`);
  while (after[i]?.what === NOT_READY.what) expectAnswer(after[i++], NOT_READY, maxAges, 'the first read after the fault');
  assert.equal(i, after.length - 1, seq);
  expectAnswer(after[i], { code: '2.05', what: celsius, maxAge: 1 }, maxAges, 'the first reading after the fault');
}

/** The observation ended: the table has no entry for it, and nothing more comes, not even for a new value. */
async function assertObservationEnded(gw: Gateway, obs: Observer): Promise<void> {
  assert.equal((await gw.stats()).observers, 0, '/gw/stats: the observer was removed');
  const before = obs.seen.length;
  await gw.sim({ op: 'set', celsius: 30 });
  await gw.pollTemp((a) => a.what === 30);
  await sleep(gw.real(2 * PERIOD_MS) + 50);
  assert.deepEqual(obs.seen.slice(before).map(answerOf), [], 'no notification after the error notification');
}

// Both gateways first: the launcher refuses to start on bundles older than the sources.
const SCALES = [1, 10];
const gateways = new Map<number, Gateway>();
before(async () => {
  for (const scale of SCALES) gateways.set(scale, await Gateway.start(scale));
});
after(async () => {
  for (const gw of gateways.values()) await gw.close();
});

for (const scale of SCALES) {
  describe(`what each fault does to a device, at --time-scale ${scale} (docs/simulation.md)`, () => {
    let gw: Gateway;
    let token = 0;
    before(() => {
      gw = gateways.get(scale)!;
    });

    for (const row of ERROR_FAULTS) {
      it(`fault ${row.fault}: 5.03 ${row.code} Max-Age ${busErrorMaxAge(scale)}; the observer gets it as a CON without Observe and is dropped; after clear, the last 5.03 for up to one period, NOT_READY, then readings`, async () => {
        await gw.normal();
        const obs = await Observer.register(gw, ++token);
        const maxAges: string[] = [];
        try {
          const res = await gw.sim({ op: 'fault', fault: row.fault });
          assert.equal(res.sensors.tmp102.fault, row.fault);
          assert.deepEqual(res.sensors.tmp102.faultOverride, { fault: row.fault, untilScenarioMs: null });

          // The reading taken before the fault stays the answer while fresh (its Max-Age, at most one period); then the fault.
          const during = await gw.pollTemp((a) => a.code !== '2.05');
          assert.ok(during.slice(0, -1).every((a) => a.code === '2.05' && a.what === START_C), JSON.stringify(during));
          const err = { code: '5.03', what: row.code, maxAge: busErrorMaxAge(scale) };
          expectAnswer(during.at(-1), err, maxAges, 'GET /temp');
          expectAnswer(await gw.temp(), err, maxAges, 'every read while the fault lasts');

          const note = await obs.waitFor((r) => r.code !== '2.05');
          expectAnswer(answerOf(note), err, maxAges, 'the error notification');
          assert.equal(note.observe, undefined, 'an error notification carries no Observe option (RFC 7641 section 4.2)');
          assert.ok(note.packet.confirmable, 'sent as a CON');
          assert.deepEqual(note.packet.token, obs.token);

          const sim = await gw.simState();
          assert.equal(sim.sensors.tmp102.fault, row.fault);
          assert.match(sim.changes.at(-1)!.what, new RegExp(`fault ${row.fault} injected`));
          const stats = await gw.stats();
          assert.equal(stats.simulation.sensors.tmp102.fault, row.fault, '/gw/stats shows the fault');
          assert.ok((stats.notifications['5.03'] ?? 0) >= 1 && (stats.requests['5.03'] ?? 0) >= 2, JSON.stringify(stats.notifications));

          await gw.sim({ op: 'clear' });
          expectRecovery(await gw.pollTemp((a) => a.code === '2.05'), err, START_C, maxAges);
          assert.equal((await gw.simState()).sensors.tmp102.fault, null);
          await assertObservationEnded(gw, obs);
          assert.deepEqual(maxAges, [], 'Max-Age in real seconds (docs/simulation.md "Time that runs faster")');
        } finally {
          await obs.close();
        }
      });
    }

    it(`fault unplugged for a while: 5.03 GW_ERR_I2C_NACK Max-Age ${busErrorMaxAge(scale)}, the observer dropped; when it runs out the chip is back powered up: NOT_READY, never 0 °C, then readings`, async () => {
      await gw.normal();
      const obs = await Observer.register(gw, ++token);
      const maxAges: string[] = [];
      try {
        const forS = 2 * scale; // 2 s of real time
        const res = await gw.sim({ op: 'fault', fault: 'unplugged', for: `${forS}s` });
        assert.equal(res.sensors.tmp102.fault, 'unplugged');
        assert.equal(typeof res.sensors.tmp102.faultOverride?.untilScenarioMs, 'number');
        const err = { code: '5.03', what: 'GW_ERR_I2C_NACK', maxAge: busErrorMaxAge(scale) };
        const during = await gw.pollTemp((a) => a.code !== '2.05');
        expectAnswer(during.at(-1), err, maxAges, 'GET /temp');
        const note = await obs.waitFor((r) => r.code !== '2.05');
        expectAnswer(answerOf(note), err, maxAges, 'the error notification');
        assert.equal(note.observe, undefined);
        assert.equal((await gw.stats()).simulation.sensors.tmp102.fault, 'unplugged');

        // Nobody clears it: it runs out by itself, and the gateway says so.
        const rest = await gw.pollTemp((a) => a.code === '2.05');
        expectRecovery(rest, err, START_C, maxAges);
        assert.ok(!rest.some((a) => a.code === '2.05' && a.what === 0), 'a chip just powered up reads 0 °C until its first conversion; that never reaches a device');
        const sim = await gw.simState();
        assert.deepEqual([sim.sensors.tmp102.fault, sim.sensors.tmp102.faultOverride], [null, null]);
        assert.ok(sim.changes.some((c) => c.source === 'control' && /unplugged ran out/.test(c.what)), JSON.stringify(sim.changes));
        await assertObservationEnded(gw, obs);
        assert.deepEqual(maxAges, [], 'Max-Age in real seconds (docs/simulation.md "Time that runs faster")');
      } finally {
        await obs.close();
      }
    });

    it('fault stuck: 2.05 with the frozen value (nothing says so), the observer kept and told nothing; after clear the real value, notified', async () => {
      await gw.normal();
      const obs = await Observer.register(gw, ++token);
      try {
        await gw.sim({ op: 'fault', fault: 'stuck' });
        const res = await gw.sim({ op: 'set', celsius: 30 });
        assert.deepEqual([res.sensors.tmp102.celsius, res.sensors.tmp102.fault], [30, 'stuck'], 'the die feels 30 °C; the register does not follow');
        const start = obs.seen.length;
        // Three conversion periods: several fresh reads, all of the frozen register.
        const deadline = Date.now() + gw.real(3 * PERIOD_MS + CONVERSION_MS) + 50;
        const during: Answer[] = [];
        while (Date.now() < deadline) {
          during.push(await gw.temp());
          await sleep(20);
        }
        assert.ok(during.every((a) => a.code === '2.05' && a.what === START_C && a.maxAge === 1), JSON.stringify(during));
        assert.deepEqual(obs.seen.slice(start).map(answerOf), [], 'a value that does not change is not notified');
        const stats = await gw.stats();
        assert.equal(stats.observers, 1, 'the observer is kept');
        assert.equal(stats.simulation.sensors.tmp102.fault, 'stuck');

        await gw.sim({ op: 'clear' });
        const afterClear = await gw.pollTemp((a) => a.what === 30);
        assert.ok(afterClear.every((a) => a.code === '2.05'), `a stuck chip still answered: no re-configuration, no NOT_READY: ${JSON.stringify(afterClear)}`);
        const note = await obs.waitFor((r) => (r.cbor as { value?: number }).value === 30, start);
        assert.equal(note.code, '2.05');
        assert.notEqual(note.observe, undefined);
      } finally {
        await obs.close();
      }
    });

    it('reset (behind the module\'s back) after PUT /temp/alert 30/25: readings go on, the observer is kept, /gw/sim counts the reset; the module writes the limits back (ALERT follows 30 °C again) and logs it once', async () => {
      await gw.normal();
      assert.equal((await gw.putAlert({ high: 30, low: 25 })).code, '2.04');
      const obs = await Observer.register(gw, ++token);
      try {
        const resetsBefore = (await gw.simState()).sensors.tmp102.resets;
        const restoredBefore = gw.restoredLines();
        const edgesBefore = (await gw.stats()).sensors.tmp102.alertEdges;
        const start = obs.seen.length;
        const res = await gw.sim({ op: 'reset' });
        assert.equal(res.sensors.tmp102.resets, resetsBefore + 1);
        // The reset put T_HIGH/T_LOW back at 80/75 °C. The module looks for that at most once a
        // second of sensor time, and at once when it reads the 0x0000 of a reset chip
        // (wasm-src/tmp102/reset.go); reads (these GETs) are what make it look.
        const afterReset = await gw.pollTemp(() => gw.restoredLines() > restoredBefore);
        // At the power-up conversions (12-bit, 4 Hz, continuous) the restore waits for nothing,
        // and a 0x0000 register is read again after one conversion instead of reported as 0 °C.
        assert.ok(afterReset.every((a) => a.code === '2.05' && a.what === START_C), JSON.stringify(afterReset));
        assert.equal(gw.restoredLines(), restoredBefore + 1, 'one reset, one warn line');
        assert.deepEqual(obs.seen.slice(start).map(answerOf), []);
        const stats = await gw.stats();
        assert.equal(stats.observers, 1, 'the observer is kept');
        assert.equal(stats.simulation.sensors.tmp102.resets, resetsBefore + 1, '/gw/stats counts it too');
        assert.deepEqual(await gw.alertSettings(), { high: 30, low: 25, mode: 'comparator', polarity: 'active-low', faults: 1 });
        // The chip's T_HIGH is 30 °C again: 40 °C raises ALERT (an edge in /gw/stats), which 80 °C would not.
        await gw.sim({ op: 'set', celsius: 40 });
        const note = await obs.waitFor((r) => (r.cbor as { value?: number }).value === 40, start);
        assert.notEqual(note.observe, undefined, 'and still notified of a new value');
        const deadline = Date.now() + PATIENCE_MS;
        while ((await gw.stats()).sensors.tmp102.alertEdges === edgesBefore) {
          if (Date.now() > deadline) assert.fail('no ALERT edge at 40 °C: the chip still holds T_HIGH 80 °C');
          await sleep(20);
        }
      } finally {
        await obs.close();
        await gw.sim({ op: 'release' });
        assert.equal((await gw.putAlert({ high: 80, low: 75 })).code, '2.04', 'back to the power-up limits for the other rows');
      }
    });

    it('set 40: GET answers 40 once a conversion has ended after it (Max-Age 1), the observer is notified; release goes back', async () => {
      await gw.normal();
      const obs = await Observer.register(gw, ++token);
      try {
        const start = obs.seen.length;
        const res = await gw.sim({ op: 'set', celsius: 40 });
        assert.deepEqual([res.sensors.tmp102.celsius, res.sensors.tmp102.temperatureOverride], [40, 40]);
        assert.equal(res.change.what, 'temperature held at 40 °C');
        // One period and one conversion later the reading of 40 is taken and the old one is stale.
        await sleep(gw.real(PERIOD_MS + CONVERSION_MS) + 20);
        assert.deepEqual(await gw.temp(), { code: '2.05', what: 40, maxAge: 1 });
        const note = await obs.waitFor((r) => (r.cbor as { value?: number }).value === 40, start);
        assert.deepEqual([note.code, note.maxAge, note.observe !== undefined], ['2.05', 1, true]);
        assert.deepEqual((await gw.simState()).sensors.tmp102.temperatureOverride, 40);
        await gw.sim({ op: 'release' });
        await gw.pollTemp((a) => a.what === START_C);
        await obs.waitFor((r) => (r.cbor as { value?: number }).value === START_C, start);
        assert.equal((await gw.stats()).simulation.sensors.tmp102.temperatureOverride, null);
      } finally {
        await obs.close();
      }
    });
  });
}
