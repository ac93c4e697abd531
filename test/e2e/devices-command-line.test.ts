// End to end, issue 15: commands to a line device. Every message on devices/{device}/send is written to the serial
// port (a socat pty; the test holds the other end) as one line, in order, from MQTT.js and mosquitto_pub alike.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SerialPort } from 'serialport';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { PtyPair } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run, waitFor } from '../helpers/tools.js';

const test = suite('e2e devices: commands to a line device');
const it = requireTool(test, 'socat', 'mosquitto_pub');

it('every message on the send topic is one line on the port, in order; the queue is a standard one', async () => {
  const pty = await PtyPair.open();
  const yaml = `buses:
  - { name: console, type: serial, path: ${pty.a}, baudRate: 115200 }
devices:
  - { name: scale, type: line, bus: console, delimiter: "\\r\\n", qos: 1 }
`;
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  const other = new SerialPort({ path: pty.b, baudRate: 115200, autoOpen: false });
  let heard = '';
  other.on('data', (d: Buffer) => (heard += d.toString('latin1')));
  await new Promise<void>((resolve, reject) => other.open((err) => (err ? reject(err) : resolve())));
  try {
    broker = await ws.start();
    const client = await connectClient(broker.url);
    const status = collect(client);
    await client.subscribeAsync('devices/scale/status', { qos: 1 });
    await status.waitCount(1, 10000);
    const lines = ['TARE', 'ZERO', 'ZERO', 'PRINT 1', 'UNIT kg'];
    for (const l of lines) await client.publishAsync('devices/scale/send', l, { qos: 1 });
    const pub = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 'devices/scale/send', '-m', 'BEEP']);
    assert.is(pub.code, 0, pub.stderr);
    const expected = [...lines, 'BEEP'].map((l) => `${l}\r\n`).join('');
    await waitFor(() => heard.length >= expected.length, 10000, 'the lines on the port');
    assert.is(heard, expected, 'each message once, in order, even repeated ones (not last-value)');
    const res = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/queues`);
    const q = ((await res.json()) as { queues: { name: string; type: string; depth: number }[] }).queues.find((x) => x.name === 'devices.scale.send');
    assert.ok(q, 'the send queue is listed');
    assert.equal([q!.type, q!.depth], ['standard', 0]);
    await endClient(client);
  } finally {
    await new Promise<void>((resolve) => (other.isOpen ? other.close(() => resolve()) : resolve()));
    await broker?.crash();
    await ws.dispose();
    await pty.close();
  }
});

test.run();
