// End to end, issue 14 (Operations): a bus that cannot open (its serial port is missing) logs one clear error and is
// retried; the broker and the other devices keep running, and the device comes online once the port appears.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('e2e devices: a bus that cannot start');
const it = requireModbusSim(test, 'rtu');

it('a missing serial port: one error line, retried; the TCP device keeps publishing; online once the port exists', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-missing-port-'));
  const portPath = join(dir, 'ttyUSB9');
  const tcpSim = await ModbusSim.start({ units: [1] });
  const yaml = `buses:
  - { name: rs485, type: serial, path: ${portPath}, baudRate: 19200 }
  - { name: plc, type: tcp, host: 127.0.0.1, port: ${tcpSim.port} }
devices:
  - { name: meter, bus: rs485, unitId: 1, pollInterval: 100ms, timeout: 200ms, retries: 0, qos: 1, points: [ { name: v, table: holding_register, address: 0, type: uint16 } ] }
  - { name: plc1, bus: plc, unitId: 1, pollInterval: 100ms, timeout: 200ms, retries: 0, qos: 1, publish: always, points: [ { name: v, table: holding_register, address: 0, type: uint16 } ] }
`;
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  let pty: PtyPair | undefined;
  let rtuSim: ModbusSim | undefined;
  try {
    await tcpSim.set(1, 'hr', 0, [7]);
    broker = await ws.start({ logLevel: 'info' });
    const client = await connectClient(broker.url);
    const plc = collect(client);
    await client.subscribeAsync('devices/plc1/state', { qos: 1 });
    const watcher = await connectClient(broker.url);
    const status = collect(watcher);
    await watcher.subscribeAsync('devices/meter/status', { qos: 1 });
    // The other bus is not held up: its device publishes every cycle (publish: always).
    await plc.waitCount(5, 10000);
    await waitFor(() => /bus unavailable, retrying/.test(broker!.output()), 10000, 'the bus error line');
    // Retries go on (the transport reopens with backoff), the error is logged once.
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(broker.output().match(/bus unavailable, retrying/g)!.length, 1, broker.output());
    assert.match(broker.output(), new RegExp(`bus unavailable, retrying bus=rs485 error=.*${portPath.replace(/[/.]/g, '\\$&')}`));
    assert.ok(broker.running());
    // The port appears where the configuration points, with a device behind it.
    pty = await PtyPair.open({ a: portPath, b: join(dir, 'device-end') });
    rtuSim = await ModbusSim.start({ units: [1], serial: pty.b, baudRate: 19200 });
    await rtuSim.set(1, 'hr', 0, [42]);
    await waitFor(() => status.messages.some((m) => (JSON.parse(m.payload) as { state: string }).state === 'online'), 20000, 'meter online');
    await waitFor(() => /bus open again bus=rs485/.test(broker!.output()), 5000, 'recovery logged');
    await endClient(client);
    await endClient(watcher);
  } finally {
    await broker?.crash();
    await ws.dispose();
    await rtuSim?.close();
    await pty?.close();
    await tcpSim.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
