/**
 * A TMP102 reset behind the module's back, with settings other than the power-up ones
 * (issue 16's fault table): limits written with PUT /temp/alert, then a reset (a brown-out, a
 * general call from another master: SBOS397 "General Call") puts T_HIGH/T_LOW back at 80/75 °C.
 * The module looks for that at most once a second of its clock and whenever the temperature
 * register looks like a reset chip's (wasm-src/tmp102/reset.go), writes its settings back, and
 * logs one warn line. Everything here goes through public interfaces on the real gateway
 * process: PUT/GET /temp/alert, POST /gw/sim, GET /temp and /gw/stats over UDP, and its log.
 *
 * The chip's limits are read through what they do: after `set 40`, ALERT fires (an edge counted
 * in /gw/stats `alertEdges`) only if T_HIGH is back at 30 °C; at 80 °C it never would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decode as cborDecode, encode as cborEncode } from 'cbor-x';
import { type GatewayProcess, spawnGatewayProcess } from './helpers/gateway-process.ts';
import { RawClient, type Response, block2Of, block2Value, pathOptions, requestDatagram, uint } from './helpers/coap-datagram.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const START_C = 21.5;
/** How long a test waits for something that must come (generous: a shared, noisy machine). */
const PATIENCE_MS = 8000;
const RESTORED_LINE = /chip reset detected: T_HIGH 0x5000, expected 0x1e00; settings restored/g;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SensorStats {
  alertEdges: number;
}

describe('TMP102 reset behind the module\'s back, after PUT /temp/alert', () => {
  let proc: GatewayProcess;
  let client: RawClient;
  let port: number;
  let nextSource = 0;

  before(async () => {
    proc = spawnGatewayProcess(
      [process.execPath, 'gateway/cli/launch.mjs', 'start', '--host', '127.0.0.1', '--port', '0', '--no-watch', '--sim-temp', String(START_C)],
      { cwd: REPO },
    );
    await proc.waitFor(/listening on udp/);
    port = proc.port();
    client = await RawClient.open('127.0.0.1', port);
  });

  after(async () => {
    await client?.close();
    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0, proc.err());
  });

  async function request(path: string, o: { code?: string; options?: { name: string; value: Buffer }[]; payload?: Buffer } = {}): Promise<Response> {
    const r = await client.exchange(requestDatagram({ code: o.code, options: [...pathOptions(path), ...(o.options ?? [])], payload: o.payload }), 3000);
    if (!r) throw new Error(`no answer to ${path}`);
    return r;
  }

  /** POST /gw/sim in JSON, each command from its own loopback address (the per-client write limit is not this file's business). */
  async function sim(command: Record<string, unknown>): Promise<void> {
    const source = await RawClient.open('127.0.0.1', port, `127.0.0.${2 + (nextSource++ % 250)}`);
    try {
      const options = [...pathOptions('/gw/sim'), { name: 'Content-Format', value: uint(50) }, { name: 'Accept', value: uint(50) }];
      const r = await source.exchange(requestDatagram({ code: '0.02', options, payload: Buffer.from(JSON.stringify(command)) }), 3000);
      assert.equal(r?.code, '2.04', `${JSON.stringify(command)}: ${r?.code} ${r?.packet.payload.toString()}`);
    } finally {
      await source.close();
    }
  }

  /** /gw/stats' TMP102 counters (the body may come in blocks, RFC 7959 section 2.4). */
  async function sensorStats(): Promise<SensorStats> {
    const parts: Buffer[] = [];
    for (let num = 0; num < 64; num++) {
      const r = await request('/gw/stats', { options: [{ name: 'Block2', value: block2Value(num, 6) }] });
      assert.equal(r.code, '2.05');
      parts.push(r.packet.payload);
      if (!block2Of(r)?.more) break;
    }
    return (cborDecode(Buffer.concat(parts)) as { sensors: { tmp102: SensorStats } }).sensors.tmp102;
  }

  const log = () => proc.out() + proc.err();
  const restoredLines = () => log().match(RESTORED_LINE)?.length ?? 0;

  it('restores the written limits: GET /temp/alert tells the truth, ALERT follows 30/25 again, one warn line, readings go on', async () => {
    const put = await request('/temp/alert', { code: '0.03', options: [{ name: 'Content-Format', value: uint(60) }], payload: cborEncode({ high: 30, low: 25 }) });
    assert.equal(put.code, '2.04', put.packet.payload.toString());
    const edges0 = (await sensorStats()).alertEdges;
    assert.equal(restoredLines(), 0);

    await sim({ op: 'reset' });
    // Reads make the module look: GET /temp every 20 ms (paced: one module read per 250 ms).
    const answers: Array<[string, unknown]> = [];
    const deadline = Date.now() + PATIENCE_MS;
    while (restoredLines() === 0) {
      if (Date.now() > deadline) assert.fail(`no restore logged; answers ${JSON.stringify(answers.slice(-5))}; log tail ${log().slice(-2000)}`);
      const r = await request('/temp');
      answers.push([r.code, (r.cbor as { value?: number; code?: string } | undefined)?.value ?? (r.cbor as { code?: string } | undefined)?.code]);
      await sleep(20);
    }
    // At the power-up conversions (12-bit, 4 Hz, continuous) the restore waits for nothing.
    assert.ok(answers.every(([code, value]) => code === '2.05' && value === START_C), JSON.stringify(answers));

    const alert = await request('/temp/alert', { options: [{ name: 'Accept', value: uint(50) }] });
    assert.deepEqual(JSON.parse(alert.packet.payload.toString()), { high: 30, low: 25, mode: 'comparator', polarity: 'active-low', faults: 1 });

    // The chip's own T_HIGH: 40 °C >= 30 °C raises ALERT at the next conversion (comparator
    // mode, one fault: SBOS397 "Thermostat Mode (TM)"). With the power-up 80 °C it would not.
    await sim({ op: 'set', celsius: 40 });
    const until = Date.now() + PATIENCE_MS;
    while ((await sensorStats()).alertEdges === edges0) {
      if (Date.now() > until) assert.fail('ALERT never fired at 40 °C: the chip still has T_HIGH 80 °C');
      await sleep(50);
    }
    // ... and 21.5 °C < 25 °C releases it: T_LOW is back too.
    const fired = (await sensorStats()).alertEdges;
    await sim({ op: 'release' });
    const until2 = Date.now() + PATIENCE_MS;
    while ((await sensorStats()).alertEdges === fired) {
      if (Date.now() > until2) assert.fail('ALERT never released at 21.5 °C: the chip does not have T_LOW 25 °C');
      await sleep(50);
    }
    assert.equal(restoredLines(), 1, 'one reset, one warn line');
  });
});
