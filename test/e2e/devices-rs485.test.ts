// End to end, issue 14 (Configuration: "optional RS-485 mode where the serialport binding supports it"): the
// binding Wharf uses (@serialport/bindings-cpp 13) has no TIOCSRS485 setting, so a bus with `rs485` must say once
// that the setting is not applied, and still poll its devices as a plain UART (what the README promises).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('e2e devices: rs485 settings on a serial bus');
const it = requireModbusSim(test, 'rtu');

const WARNING = /bus rs485 settings are not applied by this serialport binding/;

it('rs485 on one of two serial buses: one warning naming that bus, none for the other; both buses poll', async () => {
  const line1 = await PtyPair.open();
  const line2 = await PtyPair.open();
  const sim1 = await ModbusSim.start({ units: [1], serial: line1.b, baudRate: 19200 });
  const sim2 = await ModbusSim.start({ units: [1], serial: line2.b, baudRate: 19200 });
  const yaml = `buses:
  - { name: line1, type: serial, path: ${line1.a}, baudRate: 19200, rs485: { rtsOnSend: true, delayRtsAfterSendMs: 1 } }
  - { name: line2, type: serial, path: ${line2.a}, baudRate: 19200 }
devices:
  - { name: m1, bus: line1, unitId: 1, pollInterval: 100ms, timeout: 300ms, qos: 1, publish: always, points: [ { name: v, table: holding_register, address: 0, type: uint16 } ] }
  - { name: m2, bus: line2, unitId: 1, pollInterval: 100ms, timeout: 300ms, qos: 1, publish: always, points: [ { name: v, table: holding_register, address: 0, type: uint16 } ] }
`;
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  try {
    await sim1.set(1, 'hr', 0, [481]);
    await sim2.set(1, 'hr', 0, [482]);
    broker = await ws.start({ logLevel: 'info' });
    const client = await connectClient(broker.url);
    const got = collect(client);
    await client.subscribeAsync('devices/+/state', { qos: 1 });
    const read = (device: string, v: number) =>
      got.messages.some((m) => m.topic === `devices/${device}/state` && (JSON.parse(m.payload) as { values: { v?: number } }).values.v === v);
    // Polled as a plain UART: the value reaches the broker through the bus whose rs485 is not applied.
    await waitFor(() => read('m1', 481) && read('m2', 482), 10000, 'both devices read').catch((e: Error) => {
      throw new Error(`${e.message}; got ${JSON.stringify(got.messages)}; output:\n${broker!.output()}`);
    });
    // Several cycles later the warning is still the one line of the start, and it names line1 only.
    await new Promise((r) => setTimeout(r, 500));
    const warnings = broker.output().split('\n').filter((l) => WARNING.test(l));
    assert.is(warnings.length, 1, broker.output());
    assert.match(warnings[0]!, /bus=line1/);
    assert.not.match(warnings[0]!, /line2/);
    await endClient(client);
  } finally {
    await broker?.crash();
    await ws.dispose();
    await sim1.close();
    await sim2.close();
    await line1.close();
    await line2.close();
  }
});

test.run();
