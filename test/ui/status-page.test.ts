// The status page in a real browser (Debian's chromium, headless, through playwright-core) against a real broker
// with the admin token required: sign-in (an unknown token refused), a queue's depth rising as it is filled and
// falling as a consumer drains it, the queue page with its consumer, purge after confirmation (and not after
// Cancel), the stream dropping and coming back, a phone-sized screen and the keyboard. Screenshots go to the
// test's temp directory and are checked for size.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import type { MqttClient } from 'mqtt';
import { launchChromium, pngInfo, requireChromium } from './browser.js';
import type { BusStatus, DeviceStatus, DeviceStatusSource } from '../../src/devices/status.js';

const test = suite('ui: status page in chromium');
const it = requireChromium(test);

const TOKEN = 'status-page-token-0123456789';
/** Bounds for the page to show what the broker did: a snapshot a second, so a few seconds at most. */
const SHOW_MS = 15_000;

let tb: AdminBroker;
let browser: Browser;
let dir: string;
const clients: MqttClient[] = [];

test.before(async () => {
  if (!it.available) return;
  dir = mkdtempSync(join(tmpdir(), 'wharf-ui-'));
  tb = await startAdminBroker((c) => (c.admin.token = TOKEN), { sampleIntervalMs: 1000 });
  browser = await launchChromium();
});
test.after(async () => {
  if (!it.available) return;
  await Promise.all(clients.map((c) => endClient(c, true)));
  await browser?.close();
  await tb?.stop();
  if (process.env.WHARF_UI_KEEP_SCREENSHOTS === undefined) rmSync(dir, { recursive: true, force: true });
  else console.log(`screenshots kept in ${dir}`);
});

async function client(id: string): Promise<MqttClient> {
  const c = await connectClient(tb.url, { clientId: id });
  clients.push(c);
  return c;
}

async function publish(c: MqttClient, topic: string, n: number): Promise<void> {
  for (let at = 0; at < n; at += 100) await Promise.all(Array.from({ length: Math.min(100, n - at) }, (_, i) => c.publishAsync(topic, `job ${at + i}`, { qos: 1 })));
}

/** The depth cell of a queue's row in the queues table. */
const depthCell = (q: string) => `#queues tr[data-queue="${q}"] td:nth-of-type(1)`;

async function waitText(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(([sel, t]) => document.querySelector(sel!)?.textContent?.trim() === t, [selector, text], { timeout: SHOW_MS });
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.locator('#login-form button[type=submit]').click();
}

async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(dir, name);
  await page.screenshot({ path, fullPage: true });
  const png = pngInfo(path);
  const vp = page.viewportSize()!;
  assert.is(png.width, vp.width, `${name}: as wide as the window`);
  assert.ok(png.height >= vp.height, `${name}: at least the window's height`);
  // A blank or unstyled page compresses to a few KB; a page with its cards and tables is well above.
  assert.ok(png.bytes > 20_000 && png.bytes < 3_000_000, `${name}: ${png.bytes} bytes`);
}

it('signs in with the token (an unknown one refused), shows a queue filling and draining, purges after confirmation', async () => {
  const created = await tb.api('POST', '/api/v1/queues', { token: TOKEN, body: { name: 'jobs', topicFilter: 'jobs/#', maxMessages: 1000 } });
  assert.is(created.status, 201);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(tb.adminUrl + '/');

  await page.locator('#login-form').waitFor({ timeout: SHOW_MS });
  await signIn(page, `${TOKEN}-wrong`);
  await page.locator('#login-error').waitFor({ timeout: SHOW_MS });
  assert.match(await page.locator('#login-error').innerText(), /refused/);
  assert.is(await page.locator('#queues').count(), 0, 'nothing shown with an unknown token');
  await signIn(page, TOKEN);
  await waitText(page, depthCell('jobs'), '0');
  assert.is(await page.evaluate(() => sessionStorage.getItem('wharf.adminToken')), TOKEN, 'the token is kept for the tab');

  // Filled with no consumer: the depth rises to what was published, with thousands separators.
  const pub = await client('producer');
  await publish(pub, 'jobs/a', 1000);
  await waitText(page, depthCell('jobs'), '1,000');
  await page.locator('#alerts li', { hasText: 'Queue jobs at its limit' }).waitFor({ timeout: SHOW_MS });
  await screenshot(page, 'overview.png');

  // A consumer drains it: the depth falls to 0 and the sparkline has drawn both.
  const worker = await client('worker');
  await worker.subscribeAsync('$queue/jobs', { qos: 1 });
  await waitText(page, depthCell('jobs'), '0');
  const heights = await page.$eval('#queues tr[data-queue="jobs"] polyline', (p) => p.getAttribute('points')!.split(' ').map((xy) => Number(xy.split(',')[1])));
  assert.ok(Math.min(...heights) < 5 && heights[heights.length - 1]! > 20, `sparkline went up and came down: ${heights.join(' ')}`);

  // The queue page, reached from the table: its consumer, its settings.
  await page.locator('#queues a', { hasText: 'jobs' }).click();
  await page.locator('#consumers th', { hasText: 'worker' }).waitFor({ timeout: SHOW_MS });
  assert.match(await page.locator('dl.settings').first().innerText(), /max messages\s+1,000/);

  // Without the consumer, a backlog to purge: Cancel keeps it, Purge empties it.
  await endClient(worker, true);
  await publish(pub, 'jobs/b', 50);
  await waitText(page, '#depth .value', '50');
  await page.locator('button[data-action=purge]').click();
  await page.locator('#confirm[open]').waitFor();
  assert.match(await page.locator('#confirm-text').innerText(), /“jobs”.*\(50 now\)/);
  await page.locator('#confirm-no').click();
  assert.is((await tb.api('GET', '/api/v1/queues/jobs', { token: TOKEN })).body.depth, 50, 'Cancel purges nothing');
  await page.locator('button[data-action=peek]').click();
  await page.locator('#peek td', { hasText: 'job 9' }).waitFor({ timeout: SHOW_MS });
  assert.is(await page.locator('#peek tbody tr').count(), 10, 'peek shows the first 10');
  await screenshot(page, 'queue.png');
  await page.locator('button[data-action=purge]').click();
  await page.locator('#confirm-yes').click();
  await page.locator('#notice', { hasText: 'Purged 50 messages' }).waitFor({ timeout: SHOW_MS });
  assert.is((await tb.api('GET', '/api/v1/queues/jobs', { token: TOKEN })).body.depth, 0);
  await waitText(page, '#depth .value', '0');
  assert.equal(errors, [], 'no script errors');
  await page.close();
});

it('says so when the live stream drops, keeps the last figures, and picks up again', async () => {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  await page.goto(tb.adminUrl + '/');
  await signIn(page, TOKEN);
  await page.locator('#live.live').waitFor({ timeout: SHOW_MS });
  const admin = tb.monitoring.admin!;
  const port = admin.port();
  await admin.stop();
  await page.locator('#live.lost').waitFor({ timeout: SHOW_MS });
  assert.match(await page.locator('#live').innerText(), /lost/);
  assert.is(await page.locator('#queues tr[data-queue="jobs"]').count(), 1, 'the last figures stay on screen');
  await page.locator('nav a', { hasText: 'Devices' }).click();
  // The section renders after the click's handler runs: wait for it rather than read the text at once.
  await page.locator('main', { hasText: 'No devices configured' }).waitFor({ timeout: SHOW_MS });
  assert.match(await page.locator('main').innerText(), /No devices configured/, 'navigation works without the stream');
  await admin.start(`127.0.0.1:${port}`);
  await page.locator('#live.live').waitFor({ timeout: SHOW_MS });
  await page.close();
});

it('fits a phone screen and works from the keyboard; sections without their feature say "not configured"', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await page.goto(tb.adminUrl + '/');
  await signIn(page, TOKEN);
  await waitText(page, depthCell('jobs'), '0');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling of the page (wide tables scroll in their box)');
  await screenshot(page, 'overview-phone.png');
  // Tab to the queue's link and open it with Enter.
  let onLink = false;
  for (let i = 0; i < 40 && !onLink; i++) {
    await page.keyboard.press('Tab');
    onLink = await page.evaluate(() => document.activeElement?.getAttribute('href') === '#/queue/jobs');
  }
  assert.ok(onLink, 'the queue link is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.locator('h1', { hasText: 'Queue jobs' }).waitFor({ timeout: SHOW_MS });
  await page.goto(tb.adminUrl + '/#/bridge');
  await page.locator('main', { hasText: 'No bridge configured' }).waitFor({ timeout: SHOW_MS });
  await page.close();
});

/** Field devices as a device manager reports them (the manager is on another branch; the page reads only this). */
class SiteDevices implements DeviceStatusSource {
  meter: DeviceStatus = {
    name: 'meter-1',
    bus: 'rs485',
    kind: 'modbus',
    state: 'online',
    lastSeenMs: Date.now(),
    counters: { requests: 1200, responses: 1190, timeouts: 7, crcErrors: 3, badFrames: 0, exceptions: { '2': 1 }, readingsPublished: 1190, readingsDropped: 0 },
    rttMs: { last: 12.5, avg: 11.2, max: 48 },
    points: [
      { name: 'voltage_l1', value: 231.4, quality: 'good' },
      { name: 'energy_total', value: 123456.7, quality: 'good' },
      { name: 'frequency', quality: 'bad', error: 'timeout' },
    ],
  };
  devices(): DeviceStatus[] {
    return [this.meter];
  }
  buses(): BusStatus[] {
    return [{ name: 'rs485', type: 'serial', state: 'open', counters: { requests: 1200, timeouts: 7, crcErrors: 3, busyMs: 900 }, utilisation: 0.12 }];
  }
}

it('devices: state, round trips and errors; a device page with its points; an offline device in the alert strip', async () => {
  const site = new SiteDevices();
  const own = await startAdminBroker((c) => (c.admin.token = TOKEN), { devices: site });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    await page.goto(own.adminUrl + '/#/devices');
    await signIn(page, TOKEN);
    const row = page.locator('#devices tbody tr', { hasText: 'meter-1' });
    await row.waitFor({ timeout: SHOW_MS });
    const text = await row.innerText();
    assert.match(text, /online/);
    assert.match(text, /13 ms \/ 11 ms \/ 48 ms/);
    assert.match(text, /1,190/);
    await row.locator('a').click();
    await page.locator('main tr', { hasText: 'energy_total' }).waitFor({ timeout: SHOW_MS });
    assert.match(await page.locator('main tr', { hasText: 'energy_total' }).innerText(), /123,456\.7/);
    assert.match(await page.locator('main tr', { hasText: 'frequency' }).innerText(), /bad\s+timeout/);
    site.meter = { ...site.meter, state: 'offline', lastError: 'no answer (timeout)' };
    await page.locator('#alerts li', { hasText: 'Device meter-1 offline' }).waitFor({ timeout: SHOW_MS });
    await page.close();
  } finally {
    await own.stop();
  }
});

test.run();
