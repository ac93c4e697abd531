// The device manager in-process, beside a broker with a real store and the pymodbus simulator over TCP:
// configuration to polling to the queue; a queue that refuses readings makes them dropped (counted, status
// degraded) while polling goes on; status of devices and buses.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { WharfConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { DeviceManager } from '../../src/devices/device-manager.js';
import { silentLogger } from '../../src/log/logger.js';
import { DEFAULT_QUEUE_SETTINGS } from '../../src/queue/types.js';
import { newDataDir, removeDataDir, startBrokerOn } from '../helpers/durable-broker.js';
import { ModbusSim, requireModbusSim } from '../helpers/modbus-sim.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('devices: device manager');
const it = requireModbusSim(test, 'tcp');

function devicesOf(port: number): Pick<WharfConfig, 'buses' | 'devices'> {
  const r = validateConfig({
    buses: [{ name: 'plc', type: 'tcp', host: '127.0.0.1', port }],
    devices: [
      {
        name: 'meter1', bus: 'plc', unitId: 1, pollInterval: '50ms', timeout: '300ms', retries: 0, qos: 1, publish: 'always',
        points: [
          { name: 'a', table: 'holding_register', address: 0, type: 'uint16' },
          { name: 'b', table: 'holding_register', address: 1, type: 'int16' },
        ],
      },
    ],
  });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return { buses: r.config.buses, devices: r.config.devices };
}

it('readings the queue refuses are dropped and counted, the status says degraded, and polling goes on', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const dataDir = newDataDir();
  const b = await startBrokerOn(dataDir, {}, (c) => {
    Object.assign(c, devicesOf(sim.port));
    c.queues.definitions = [{ ...DEFAULT_QUEUE_SETTINGS, name: 'readings', topicFilter: 'devices/+/state', maxMessages: 3 }];
  });
  const manager = new DeviceManager(b.config, b.broker, silentLogger, { backoffMinMs: 100 });
  try {
    await sim.set(1, 'hr', 0, [5, 0xffff]);
    manager.start();
    await waitFor(() => (manager.devices()[0]?.counters.readingsDropped ?? 0) >= 3, 10000, 'dropped readings');
    const requestsThen = manager.devices()[0]!.counters.requests;
    await waitFor(() => manager.devices()[0]!.counters.requests >= requestsThen + 3, 10000, 'polling goes on');
    const d = manager.devices()[0]!;
    assert.is(b.broker.queues!.queueByName('readings')!.depth, 3);
    assert.is(d.counters.readingsPublished, 3);
    assert.is(d.state, 'degraded');
    assert.match(d.lastError ?? '', /reading dropped: refused: queue_full/);
    assert.equal(d.points, [
      { name: 'a', value: 5, quality: 'good' },
      { name: 'b', value: -1, quality: 'good' },
    ]);
    assert.ok(d.rttMs && d.rttMs.max >= d.rttMs.avg);
    const [bus] = manager.buses();
    assert.equal([bus!.name, bus!.type, bus!.state], ['plc', 'tcp', 'open']);
    assert.ok(bus!.counters.requests >= d.counters.requests);
  } finally {
    await manager.stop();
    await b.stop();
    removeDataDir(dataDir);
    await sim.close();
  }
});

it('a device that goes away: offline with its error in the status, online when it returns', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const dataDir = newDataDir();
  const b = await startBrokerOn(dataDir, {}, (c) => Object.assign(c, devicesOf(sim.port)));
  const manager = new DeviceManager(b.config, b.broker, silentLogger, { backoffMinMs: 100, reopenMinMs: 50, reopenMaxMs: 100 });
  try {
    manager.start();
    await waitFor(() => manager.devices()[0]!.state === 'online', 10000, 'online');
    await sim.stop();
    await waitFor(() => manager.devices()[0]!.state === 'offline', 10000, 'offline');
    assert.ok((manager.devices()[0]!.lastError ?? '').length > 0);
    assert.is(manager.buses()[0]!.state, 'error');
    await sim.start();
    await waitFor(() => manager.devices()[0]!.state === 'online', 10000, 'online again');
    await waitFor(() => JSON.parse(b.broker.retained.get('devices/meter1/status')!.payload.toString()).state === 'online', 5000, 'retained status online');
  } finally {
    await manager.stop();
    await b.stop();
    removeDataDir(dataDir);
    await sim.close();
  }
  assert.is(JSON.parse(b.broker.retained.get('devices/meter1/status')!.payload.toString()).state, 'offline', 'stopping says offline');
});

test.run();
