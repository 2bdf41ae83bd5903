/**
 * Issue 16: "The same scenario and seed give the same sequence of responses on two runs".
 *
 * In process, where time is exactly the same on every run: the gateway on a ManualClock, as
 * `npm start -- --scenario` wires it (gateway/cli/start.ts), playing fixtures/scenarios/flaky-
 * sensor.json; a raw UDP client sends GET /temp at fixed simulated instants over the whole
 * scenario and records what came back. Two runs with the same seed give identical sequences,
 * which hold readings and each of the scenario's faults (so the comparison is not of two empty
 * or all-error lists); another seed gives another sequence.
 *
 * And as a device project's CI sees it: two spawned `--exit-after-scenario --time-scale 100`
 * runs of the same scenario, side by side, print the same JSON lines but for the free port.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../drivers/clock.ts';
import { ScenarioRunner } from '../drivers/sim/scenario-runner.ts';
import { GatewayServer } from '../gateway/coap/server.ts';
import { MemoryLogger } from '../gateway/log.ts';
import { defaultConfig } from '../gateway/service/config.ts';
import { loadScenarioFile } from '../gateway/service/scenario-file.ts';
import { SensorService } from '../gateway/service/sensor-service.ts';
import { RawClient, pathOptions, requestDatagram } from './helpers/coap-datagram.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FLAKY = fileURLToPath(new URL('../fixtures/scenarios/flaky-sensor.json', import.meta.url));
/** The file's own seed, which draws some of each fault kind (docs/simulation.md "Shipped scenarios"). */
const FILE_SEED = 3;
/**
 * One request per simulated second over the whole 10 min: every fault window of the scenario
 * (1 s NACKs, 2 s bus errors, 5 s timeouts) holds at least one request, and each request finds
 * the last one's answer stale (one period, 250 ms), so every one is a fresh read of the chip.
 */
const STEP_MS = 1000;
const REQUESTS = 600;

/** What one run answered: "2.05 <value>" or "<code> <catalogue code>", in request order. */
async function responsesOf(seed: number): Promise<string[]> {
  const clock = new ManualClock();
  const logger = new MemoryLogger('error');
  const service = await SensorService.start(defaultConfig({ driver: 'simulated', simCelsius: 21.5 }), { clock, logger, isolation: 'in-thread' });
  const scenario = await loadScenarioFile(FLAKY, { sensors: service.list().filter((e) => e.simulated).map((e) => e.config.name), seed });
  const runner = new ScenarioRunner({ clock, chips: service.hardware.simulated, scenario });
  const server = await GatewayServer.start({ service, logger, clock, host: '127.0.0.1', port: 0 });
  const client = await RawClient.open('127.0.0.1', server.port);
  try {
    runner.start();
    const out: string[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      clock.advanceMs(i === 0 ? 40 : STEP_MS); // the first after the first conversion (35 ms at most)
      const res = await client.exchange(requestDatagram({ options: pathOptions('/temp') }), 5000);
      assert.ok(res, `no answer to request ${i}`);
      const body = res.cbor as { value?: number; code?: string };
      out.push(`${res.code} ${res.code === '2.05' ? body.value : body.code}`);
    }
    return out;
  } finally {
    await client.close();
    runner.close();
    await server.close();
    await service.close();
  }
}

/** How many of each answer: a short summary for messages and diagnostics. */
function tally(seq: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of seq) {
    const key = s.startsWith('2.05') ? '2.05' : s;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

describe('the same scenario and seed give the same sequence of responses (issue 16)', () => {
  it('in process, GET /temp at the same simulated instants: two runs with the same seed agree; another seed differs', async (t) => {
    const first = await responsesOf(FILE_SEED);
    const second = await responsesOf(FILE_SEED);
    const other = await responsesOf(FILE_SEED + 1);
    t.diagnostic(`seed ${FILE_SEED}: ${JSON.stringify(tally(first))}; seed ${FILE_SEED + 1}: ${JSON.stringify(tally(other))}`);

    // Not vacuous: readings (two values at least: the sine moves) and each of the scenario's faults.
    const kinds = tally(first);
    assert.ok(new Set(first.filter((s) => s.startsWith('2.05'))).size > 1, JSON.stringify(kinds));
    for (const code of ['GW_ERR_I2C_NACK', 'GW_ERR_I2C_BUS', 'GW_ERR_I2C_TIMEOUT']) assert.ok(kinds[`5.03 ${code}`]! > 0, `no ${code} in ${JSON.stringify(kinds)}`);

    assert.deepEqual(second, first);
    assert.notDeepEqual(other, first, 'the seed decides the random faults');
  });

  it('spawned with --exit-after-scenario --time-scale 100, side by side: the same JSON lines but for the port', async (t) => {
    const run = () =>
      new Promise<{ code: number | null; lines: string[]; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['gateway/cli/launch.mjs', 'start', '--host', '127.0.0.1', '--scenario', FLAKY, '--seed', String(FILE_SEED), '--time-scale', '100', '--exit-after-scenario'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, lines: stdout.split('\n').filter((l) => l !== ''), stderr }));
      });
    const [a, b] = await Promise.all([run(), run()]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    // The port is the one field that must differ (two free ports); no field holds a wall-clock time.
    const withoutPort = (lines: string[]) => lines.map((l) => JSON.stringify({ ...(JSON.parse(l) as Record<string, unknown>), port: undefined }));
    assert.deepEqual(withoutPort(b.lines), withoutPort(a.lines));
    const events = a.lines.map((l) => JSON.parse(l) as { event: string; what?: string });
    t.diagnostic(`${events.length} lines; faults: ${events.filter((e) => / begins$/.test(e.what ?? '')).length}`);
    assert.equal(events[0]?.event, 'listening');
    assert.equal(events.at(-1)?.event, 'scenario-ended');
    for (const fault of ['nack', 'bus-error', 'timeout']) assert.ok(events.some((e) => e.what === `fault ${fault} begins`), `no ${fault} in ${JSON.stringify(events)}`);
  });
});
