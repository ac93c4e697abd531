// Takes the README's screenshot of the status page (scripts/ui-screenshot/overview.png): a broker with the admin
// token, a queue filled for a while with no consumer and then drained by a slow one, another kept up with, in
// headless chromium. `node dist/scripts/ui-screenshot/take.js [--seconds 80] [--out FILE]`.

import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { startAdminBroker } from '../../test/helpers/admin.js';
import { connectClient, endClient } from '../../test/helpers/mqttjs.js';
import { launchChromium } from '../../test/ui/browser.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const seconds = Number(arg('seconds', '80'));
const out = arg('out', fileURLToPath(new URL('../../../scripts/ui-screenshot/overview.png', import.meta.url)));
const TOKEN = 'screenshot-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const tb = await startAdminBroker((c) => (c.admin.token = TOKEN), { sampleIntervalMs: 1000 });
const clients: MqttClient[] = [];
const browser = await launchChromium();
try {
  for (const q of [{ name: 'orders', topicFilter: 'orders/#', maxMessages: 10000 }, { name: 'telemetry', topicFilter: 'telemetry/#' }, { name: 'alarms', topicFilter: 'alarms/#', maxDeliveries: 3 }]) {
    await tb.api('POST', '/api/v1/queues', { token: TOKEN, body: q });
  }
  const pub = await connectClient(tb.url, { clientId: 'line-3-plc' });
  const fast = await connectClient(tb.url, { clientId: 'historian' });
  clients.push(pub, fast);
  await fast.subscribeAsync('$queue/telemetry', { qos: 1 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(tb.adminUrl + '/');
  await page.locator('#token').fill(TOKEN);
  await page.locator('#login-form button[type=submit]').click();
  let slow: MqttClient | undefined;
  // Bounded in rounds and in time (a slow disk makes rounds longer): the first half fills, the second drains.
  const start = Date.now();
  const filling = () => Date.now() - start < (seconds * 1000) / 2;
  for (let tick = 0; tick < seconds * 10 && Date.now() - start < seconds * 1000; tick++) {
    const sends = [...Array.from({ length: filling() ? 12 : 4 }, (_, i) => pub.publishAsync('orders/new', JSON.stringify({ order: tick * 12 + i }), { qos: 1 })), pub.publishAsync('telemetry/line-3', JSON.stringify({ t: tick }), { qos: 1 })];
    await Promise.all(sends);
    if (slow === undefined && !filling()) {
      // Halfway: a consumer that takes 10 ms per message (MQTT.js acknowledges one at a time) drains the backlog.
      slow = await connectClient(tb.url, { clientId: 'order-worker', customHandleAcks: (_t, _m, _p, done) => void setTimeout(() => done(0), 10) });
      clients.push(slow);
      await slow.subscribeAsync('$queue/orders', { qos: 1 });
    }
    await sleep(100);
  }
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await Promise.all(clients.map((c) => endClient(c, true)));
  await browser.close();
  await tb.stop();
}
