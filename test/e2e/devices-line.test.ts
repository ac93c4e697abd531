// End to end, issue 14: a line device on a serial port (a socat pty; the test prints on the other end). Each line
// is one message on the device's topic, in order, CR LF or LF; an over-long line is cut, never grows memory.

import { openSync, writeSync, closeSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { PtyPair } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool } from '../helpers/tools.js';

const test = suite('e2e devices: a line device on a serial port');
const it = requireTool(test, 'socat');

it('lines in, messages out, in order; an over-long line cut at maxLineBytes; the status says online', async () => {
  const pty = await PtyPair.open();
  const yaml = `buses:
  - { name: console, type: serial, path: ${pty.a}, baudRate: 115200 }
devices:
  - { name: scale, type: line, bus: console, maxLineBytes: 16, qos: 1 }
`;
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  const fd = openSync(pty.b, 'r+');
  try {
    broker = await ws.start();
    const client = await connectClient(broker.url);
    const got = collect(client);
    await client.subscribeAsync('devices/scale/lines', { qos: 1 });
    // Printed in pieces, as a device does, with both line ends; and one line of 40 bytes.
    const printed = ['12.5 kg\r\n', 'STABLE', ' 12.5 kg\n', `${'x'.repeat(40)}\n`, 'TARE\r\n'];
    // The port may open a moment after the MQTT listener: print once the device says it is online.
    const watcher = await connectClient(broker.url);
    const online = collect(watcher);
    await watcher.subscribeAsync('devices/scale/status', { qos: 1 });
    await online.waitCount(1, 10000);
    assert.is((JSON.parse(online.messages[0]!.payload) as { state: string }).state, 'online');
    for (const piece of printed) {
      writeSync(fd, piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    await got.waitCount(4, 10000);
    assert.equal(got.messages.map((m) => m.payload), ['12.5 kg', 'STABLE 12.5 kg', 'x'.repeat(16), 'TARE']);
    assert.ok(got.messages.every((m) => m.topic === 'devices/scale/lines'));
    // The cut is counted where operators look.
    const res = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/devices/scale`);
    const status = (await res.json()) as { kind: string; state: string; counters: { linesCut: number; readingsPublished: number } };
    assert.equal([status.kind, status.state, status.counters.linesCut, status.counters.readingsPublished], ['line', 'online', 1, 4]);
    await endClient(client);
    await endClient(watcher);
  } finally {
    closeSync(fd);
    await broker?.crash();
    await ws.dispose();
    await pty.close();
  }
});

test.run();
