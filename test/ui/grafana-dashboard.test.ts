// scripts/grafana/wharf-dashboard.json: importable (the fields Grafana needs, unique panel ids, a Prometheus data
// source variable), and every metric its queries use is one a real broker's /metrics serves, so a renamed
// family cannot leave a silently empty panel. The bridge's families are served only while a bridge runs: those are
// checked against the families its exposition writes (src/metrics/bridge-exposition.ts; test/e2e/bridge-admin
// scrapes them from a running bridge).

import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startAdminBroker } from '../helpers/admin.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';
import type { BusStatus, DeviceStatus, DeviceStatusSource } from '../../src/devices/status.js';

const test = suite('ui: Grafana dashboard');

const DASHBOARD = new URL('../../../scripts/grafana/wharf-dashboard.json', import.meta.url);
/** The families the bridge's exposition writes, read from its compiled source. */
const BRIDGE_EXPOSITION = readFileSync(new URL('../../src/metrics/bridge-exposition.js', import.meta.url), 'utf8');
const bridgeFamilies = new Set(BRIDGE_EXPOSITION.match(/\bwharf_bridge_[a-z0-9_]+/g) ?? []);

const device: DeviceStatus = {
  name: 'meter',
  bus: 'rs485',
  kind: 'modbus',
  state: 'online',
  lastSeenMs: Date.now(),
  counters: { requests: 3, responses: 2, timeouts: 1, crcErrors: 0, badFrames: 0, exceptions: { '2': 1 }, readingsPublished: 2, readingsDropped: 0 },
  rttMs: { last: 12, avg: 11, max: 15 },
};
const bus: BusStatus = { name: 'rs485', type: 'serial', state: 'open', counters: { requests: 3, timeouts: 1, crcErrors: 0, busyMs: 40 }, utilisation: 0.1 };
const site: DeviceStatusSource = { devices: () => [device], buses: () => [bus] };

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; refId: string }[];
}

test('the dashboard has what an import needs', () => {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  assert.is(d.title, 'Wharf');
  assert.type(d.uid, 'string');
  assert.type(d.schemaVersion, 'number');
  const panels: Panel[] = d.panels;
  assert.is(new Set(panels.map((p) => p.id)).size, panels.length, 'unique panel ids');
  for (const p of panels) {
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: within the 24-column grid`);
    if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `${p.title}: has queries`);
  }
  const ds = d.templating.list.find((v: { name: string }) => v.name === 'datasource');
  assert.is(ds.query, 'prometheus');
  // The status page's sections, as panels.
  for (const title of ['Uptime', 'Clients connected', 'Messages in / out', 'Store used / limit', 'fsyncs/s', 'Bytes written per day', 'Queues', 'Queue depth', 'Consumers', 'Devices: state', 'Bridge: outbox depth']) {
    assert.ok(panels.some((p) => p.title === title), `panel ${title}`);
  }
  assert.ok(panels.filter((p) => p.title.startsWith('Alerts:')).length === 5, 'the five alerts of the status page');
});

test('every metric the queries use is served by /metrics (the bridge families aside, until they land)', async () => {
  const tb = await startAdminBroker(undefined, { devices: site, sampleIntervalMs: 1000 });
  try {
    await tb.api('POST', '/api/v1/queues', { body: { name: 'jobs', topicFilter: 'jobs/#' } });
    const worker = await connectClient(tb.url, { clientId: 'worker' });
    await worker.subscribeAsync('$queue/jobs', { qos: 1 });
    const families = await tb.scrape();
    await endClient(worker, true);
    const served = new Set<string>();
    for (const name of families.keys()) served.add(name);
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
    const exprs: string[] = d.panels.flatMap((p: Panel) => (p.targets ?? []).map((t) => t.expr));
    const used = new Set(exprs.flatMap((e) => e.match(/\bwharf_[a-z0-9_]+/g) ?? []));
    assert.ok(used.size > 20, `${used.size} metrics used`);
    const isBridge = (m: string) => m.startsWith('wharf_bridge_');
    const missing = [...used].filter((m) => !isBridge(m) && !served.has(m) && !served.has(m.replace(/_total$/, '')));
    assert.equal(missing, [], 'metrics the dashboard uses that /metrics does not serve');
    const bridgeMissing = [...used].filter((m) => isBridge(m) && !bridgeFamilies.has(m));
    assert.ok([...used].some(isBridge), 'the dashboard has bridge panels');
    assert.equal(bridgeMissing, [], 'bridge metrics the dashboard uses that the bridge does not write');
  } finally {
    await tb.stop();
  }
});

test.run();
