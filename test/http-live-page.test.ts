/**
 * The live page (GET /, docs/http.md) in a real browser: Debian's chromium, headless, driven by
 * puppeteer-core. The gateway runs on a ManualClock with a sine temperature profile; the test
 * moves simulated time on, the page gets each reading over /events and must show it: the value
 * changes as the temperature does, the SIMULATED mark is shown, the browser logs no error (a
 * CSP violation is one) and asks nothing of any other origin.
 *
 * GW_UPDATE_SCREENSHOT=1 writes docs/img/live-page.png (an hour of the sine profile), so that a
 * plain test run never dirties the tree.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, it } from 'node:test';
import puppeteer, { type Browser } from 'puppeteer-core';
import { ManualClock } from '../drivers/clock.ts';
import { sineProfile } from '../drivers/sim/temperature-profile.ts';
import { HttpView } from '../gateway/http/http-view.ts';
import { silentLogger } from '../gateway/log.ts';
import { type TestGateway, startTestGateway } from './helpers/gateway.ts';
import { skipOrFail } from './helpers/peers.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'img', 'live-page.png');

let gw: TestGateway;
let view: HttpView;
let browser: Browser | undefined;
const clock = new ManualClock();

before(async () => {
  gw = await startTestGateway({ clock });
  gw.sim.setProfile(sineProfile({ mean: 21.5, amplitude: 2.5, periodMs: 50 * 60_000 }));
  view = await HttpView.start({ config: { host: '127.0.0.1', port: 0 }, server: gw.server, service: gw.service, logger: silentLogger, clock });
});

after(async () => {
  await browser?.close();
  await view?.close();
  await gw?.close();
});

/** Simulated time on by `seconds`, one second at a time, letting each reading reach the page. */
async function run(seconds: number): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    clock.advanceMs(1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

it('shows the readings live, marked SIMULATED, with no error and nothing from another origin', async (t) => {
  if (!existsSync(CHROMIUM)) return skipOrFail(t, `${CHROMIUM} is not installed (apt-get install chromium)`);
  browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'], defaultViewport: { width: 900, height: 320 } });
  const page = await browser.newPage();
  const origin = `http://127.0.0.1:${view.port}`;
  const errors: string[] = [];
  const foreign: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (new URL(r.url()).origin !== origin) foreign.push(r.url());
  });

  const response = await page.goto(origin + '/', { waitUntil: 'domcontentloaded' });
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'sha256-/);
  await page.waitForSelector('[data-sensor="tmp102"] .value', { timeout: 5000 });

  const shown = () => page.$eval('[data-sensor="tmp102"] .value', (e) => e.textContent ?? '');
  // An hour of the sine profile, one reading a second: the chart fills, the value follows.
  await run(5);
  await page.waitForFunction(() => document.querySelector('[data-sensor="tmp102"] .value')?.textContent?.includes('°C'), { timeout: 5000 });
  const first = await shown();
  await run(3600);
  await page.waitForFunction((before) => document.querySelector('[data-sensor="tmp102"] .value')?.textContent !== before, { timeout: 5000 }, first);

  if (process.env['GW_UPDATE_SCREENSHOT'] === '1') {
    // The hour of the sine profile, before the steps below.
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the page redraws once a second
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT as `${string}.png` });
  }

  // A step the page must show exactly.
  gw.sim.setTemperature(30.5);
  await run(2);
  await page.waitForFunction(() => document.querySelector('[data-sensor="tmp102"] .value')?.textContent === '30.5 °C', { timeout: 5000 });
  gw.sim.setTemperature(18.25);
  await run(2);
  await page.waitForFunction(() => document.querySelector('[data-sensor="tmp102"] .value')?.textContent === '18.25 °C', { timeout: 5000 });

  const sim = await page.$eval('[data-sensor="tmp102"] .sim', (e) => ({ text: e.textContent, visible: !(e as HTMLElement).hidden && (e as HTMLElement).offsetParent !== null }));
  assert.deepEqual(sim, { text: 'SIMULATED', visible: true });
  // The chart: an SVG polyline with an hour of points (one a second, at most 3600 kept).
  await page.waitForFunction(() => (document.querySelector('[data-sensor="tmp102"] polyline')?.getAttribute('points')?.split(' ').length ?? 0) > 3000, { timeout: 5000 });
  const points = await page.$eval('[data-sensor="tmp102"] polyline', (e) => e.getAttribute('points')!.split(' ').length);
  assert.ok(points <= 3601, `the page keeps an hour at most, got ${points} points`);

  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
});
