// End to end, issue 15, over RTU on a socat pty: commands on configured topic templates, mosquitto_pub (MQTT 5,
// Response Topic and Correlation Data) and mosquitto_sub as sender and receiver, three commands for a point while
// the line is silent give one write of the last value, and a bit of a register is written read-modify-write.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace } from '../helpers/broker-process.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run, startProcess, waitFor } from '../helpers/tools.js';
import { deviceState, type Receipt } from '../helpers/command-kit.js';

const test = suite('e2e devices: commands over RTU on a pty');
const simulator = requireModbusSim(test, 'rtu');
// The simulator and socat, and mosquitto-clients: each missing one skips loudly (fails under CI=true).
const rtu = simulator.available ? requireTool(test, 'mosquitto_pub', 'mosquitto_sub') : simulator;

const yaml = (path: string) => `buses:
  - { name: rs485, type: serial, path: ${path}, baudRate: 19200, parity: none }
devices:
  - name: drive
    bus: rs485
    unitId: 3
    pollInterval: 100ms
    timeout: 200ms
    retries: 0
    heartbeat: 1h
    commands: { topic: "plant/{device}/cmd", resultTopic: "plant/{device}/acks" }
    points:
      - { name: speed, table: holding_register, address: 5, type: int16, scale: 0.1, writable: true, min: -100, max: 100 }
      - { name: run, table: holding_register, address: 7, type: bool, bit: 4, writable: true }
`;

rtu('RTU: mosquitto_pub v5 command answered on its response topic; three commands while the line is silent, one write of the last', async () => {
  const pty = await PtyPair.open();
  const sim = await ModbusSim.start({ units: [3], serial: pty.b, baudRate: 19200 });
  const ws = Workspace.create(undefined, yaml(pty.a));
  let client: MqttClient | undefined;
  try {
    await sim.set(3, 'hr', 7, [0x0101]);
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'drive', 'online');
    await sim.reset();
    // mosquitto_sub waits for the one answer: payload and correlation data on one line.
    const sub = startProcess('mosquitto_sub', ['-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(broker.port), '-t', 'replies/drive', '-C', '1', '-F', '%D %p']);
    await new Promise((r) => setTimeout(r, 300));
    const pub = await run('mosquitto_pub', [
      '-V', 'mqttv5', '-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 'plant/drive/cmd/speed', '-m', '-12.5',
      '-D', 'publish', 'response-topic', 'replies/drive', '-D', 'publish', 'correlation-data', 'req-7',
    ]);
    assert.is(pub.code, 0, pub.stderr);
    assert.is(await sub.exited, 0);
    const line = sub.output().trim();
    assert.ok(line.startsWith('req-7 '), line);
    const r = JSON.parse(line.slice('req-7 '.length)) as Receipt;
    assert.is(r.outcome, 'applied');
    assert.equal(r.points.speed, { value: -12.5, outcome: 'applied', readBack: -12.5 });
    // -12.5 / 0.1 = -125 as int16.
    assert.equal(await sim.writes(), [[3, 6, 5, [0x10000 - 125]]]);

    // The line goes silent; three commands for speed; the device answers again.
    await sim.stop();
    await deviceState(client, 'drive', 'offline');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('plant/drive/acks', { qos: 1 });
    for (const v of [10, 20, 30]) await client.publishAsync('plant/drive/cmd/speed', String(v), { qos: 1 });
    await client.publishAsync('plant/drive/cmd', JSON.stringify({ run: true }), { qos: 1 });
    await sim.start();
    await waitFor(() => got.messages.filter((m) => m.topic === 'plant/drive/acks').length === 4, 15000, 'four receipts');
    const rs = got.messages.filter((m) => m.topic === 'plant/drive/acks').map((m) => JSON.parse(m.payload) as Receipt);
    assert.equal(rs.map((x) => x.outcome).sort(), ['applied', 'applied', 'superseded', 'superseded']);
    const writes = (await sim.writes()).sort((a, b) => a[2] - b[2]);
    // Bit 4 of register 7 set on the value read from the device (0x0101): read-modify-write with FC 06.
    assert.equal(writes, [
      [3, 6, 5, [300]],
      [3, 6, 7, [0x0111]],
    ]);
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
    await pty.close();
  }
});

test.run();
