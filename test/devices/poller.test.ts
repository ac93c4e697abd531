// The poller on real parts: TCP transport and bus scheduler against the pymodbus simulator, h-devdata's ReadPlan and
// StateDocumentBuilder, and the broker's in-process publish into a queue. Deadband and heartbeat as published.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalPublisher } from '../../src/broker/local-publisher.js';
import type { ModbusDeviceConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { BusScheduler } from '../../src/devices/bus-scheduler.js';
import { Poller } from '../../src/devices/poller.js';
import { ReadPlan } from '../../src/devices/read-plan.js';
import { StateDocumentBuilder } from '../../src/devices/state-document.js';
import { ModbusTcpTransport } from '../../src/devices/transport/modbus-tcp.js';
import { DEFAULT_QUEUE_SETTINGS } from '../../src/queue/types.js';
import { newDataDir, removeDataDir, startBrokerOn, type DurableBroker } from '../helpers/durable-broker.js';
import { ModbusSim, requireModbusSim } from '../helpers/modbus-sim.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('devices: poller');
const it = requireModbusSim(test, 'tcp');

function device(port: number, extra: Record<string, unknown>): ModbusDeviceConfig {
  const r = validateConfig({
    buses: [{ name: 'plc', type: 'tcp', host: '127.0.0.1', port }],
    devices: [
      {
        name: 'tank', bus: 'plc', unitId: 1, pollInterval: '20ms', timeout: '500ms', retries: 0, qos: 1,
        points: [
          { name: 'level', table: 'holding_register', address: 0, type: 'uint16', deadband: 5 },
          { name: 'pump', table: 'coil', address: 0, type: 'bool' },
        ],
        ...extra,
      },
    ],
  });
  if ('errors' in r) throw new Error(r.errors.join('\n'));
  return r.config.devices[0] as ModbusDeviceConfig;
}

interface Doc {
  values: Record<string, unknown>;
  full?: true;
}

async function withPoller(extra: Record<string, unknown>, fn: (ctx: { sim: ModbusSim; poller: Poller<ReturnType<ReadPlan['reads']>[number]>; docs: () => Promise<Doc[]>; b: DurableBroker }) => Promise<void>): Promise<void> {
  const sim = await ModbusSim.start({ units: [1] });
  const dataDir = newDataDir();
  const b = await startBrokerOn(dataDir, {}, (c) => {
    c.queues.definitions = [{ ...DEFAULT_QUEUE_SETTINGS, name: 'tank', topicFilter: 'devices/tank/state' }];
  });
  const transport = new ModbusTcpTransport({ host: '127.0.0.1', port: sim.port });
  transport.open();
  const bus = new BusScheduler(transport, { silentIntervalMs: 0 });
  const cfg = device(sim.port, extra);
  const link = bus.addDevice({ name: cfg.name, unitId: cfg.unitId, timeoutMs: cfg.timeoutMs, retries: cfg.retries });
  const poller = new Poller(cfg, link, new ReadPlan(cfg.points, cfg), new StateDocumentBuilder(cfg.points, cfg), new LocalPublisher(b.broker, 'device:tank'), { onCycle: () => undefined, onDropped: () => undefined });
  const docs = async (): Promise<Doc[]> => {
    const q = b.broker.queues!.queueByName('tank')!;
    const msgs = await b.broker.queues!.store.readQueueMessages(q.id, { afterSeq: 0, limit: 10000 });
    return msgs.map((m) => JSON.parse(m.message.payload.toString()) as Doc);
  };
  try {
    await fn({ sim, poller, docs, b });
  } finally {
    await poller.stop();
    await bus.close();
    await b.stop();
    removeDataDir(dataDir);
    await sim.close();
  }
}

it('deadband: moves within it are not published, a move beyond it is; the coil change is published alone', async () => {
  await withPoller({ heartbeat: '1h' }, async ({ sim, poller, docs }) => {
    await sim.set(1, 'hr', 0, [100]);
    poller.start();
    await waitFor(() => poller.counters.readingsPublished === 1, 5000, 'first document');
    for (const level of [103, 97, 105]) {
      await sim.set(1, 'hr', 0, [level]);
      // Let a few cycles see it: nothing is published for a move of at most 5 from 100.
      const cycles = poller.counters.cycles;
      await waitFor(() => poller.counters.cycles >= cycles + 3, 5000, 'three cycles');
    }
    assert.is(poller.counters.readingsPublished, 1);
    await sim.set(1, 'hr', 0, [106]);
    await waitFor(() => poller.counters.readingsPublished === 2, 5000, 'the move beyond the deadband');
    await sim.set(1, 'co', 0, [1]);
    await waitFor(() => poller.counters.readingsPublished === 3, 5000, 'the coil change');
    const all = await docs();
    assert.equal(all.map((d) => d.values), [{ level: 100, pump: false }, { level: 106 }, { pump: true }]);
    assert.equal(all.map((d) => d.full === true), [true, false, false]);
  });
});

it('heartbeat: with nothing changing, a full document still comes every heartbeat', async () => {
  await withPoller({ heartbeat: '1s' }, async ({ sim, poller, docs }) => {
    await sim.set(1, 'hr', 0, [42]);
    poller.start();
    await waitFor(() => poller.counters.readingsPublished >= 3, 10000, 'three heartbeats');
    const all = await docs();
    assert.ok(all.length >= 3);
    for (const d of all) assert.equal([d.full, d.values], [true, { level: 42, pump: false }]);
    // Far fewer documents than cycles: only heartbeats were published.
    assert.ok(poller.counters.cycles > all.length * 3, `${poller.counters.cycles} cycles, ${all.length} documents`);
  });
});

test.run();
