// End to end, issue 14: a `wharf` process polls the pymodbus simulator and publishes into its own broker.
// - Over Modbus TCP: the readings land in a declared queue and survive a restart; the retained status topic
//   follows the device as it disappears and returns.
// - Over RTU on a socat pty: a second unit id that never answers leaves the first one's readings flowing, and a
//   bad CRC on the wire is published as a per-point error, never as a value.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('e2e devices: Modbus devices polled into topics and queues');
const tcp = requireModbusSim(test, 'tcp');
const rtu = requireModbusSim(test, 'rtu');

interface StateDoc {
  timestamp: number;
  values: Record<string, unknown>;
  errors?: Record<string, string>;
  full?: true;
}

async function queued(broker: WharfProcess, queue: string): Promise<{ topic: string; payload: string }[]> {
  const url = `http://127.0.0.1:${broker.adminPort}/api/v1/queues/${queue}/messages?limit=1000`;
  // The admin API listens a moment after the MQTT port (which is what ws.start() waits for).
  let res: Response | undefined;
  for (let i = 0; res === undefined; i++) res = await fetch(url).catch((err: unknown) => (i < 100 ? new Promise<undefined>((r) => setTimeout(r, 50)) : Promise.reject(err)));
  assert.is(res.status, 200);
  return ((await res.json()) as { messages: { topic: string; payload: string }[] }).messages;
}

/** Polls `read` every 50 ms until `until` holds (bounded: 10 s). */
async function eventually<T>(read: () => Promise<T>, until: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await read();
    if (until(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const modbusYaml = (port: number) => `buses:
  - { name: plc, type: tcp, host: 127.0.0.1, port: ${port} }
devices:
  - name: meter1
    bus: plc
    unitId: 1
    pollInterval: 100ms
    timeout: 300ms
    retries: 0
    heartbeat: 1h
    qos: 1
    points:
      - { name: energy, table: holding_register, address: 0, type: uint32 }
      - { name: volts, table: input_register, address: 0, type: float32, byteOrder: CDAB }
      - { name: relay, table: coil, address: 2, type: bool }
queues:
  definitions:
    - { name: readings, topicFilter: devices/+/state }
`;

tcp('Modbus TCP: readings land in the declared queue in order and are still there after a restart', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, modbusYaml(sim.port));
  let broker: WharfProcess | undefined;
  try {
    const volts = Buffer.alloc(4);
    volts.writeFloatBE(231.25);
    // CDAB: the low word first.
    await sim.set(1, 'ir', 0, [volts.readUInt16BE(2), volts.readUInt16BE(0)]);
    await sim.set(1, 'hr', 0, [70000 >>> 16, 70000 & 0xffff]);
    await sim.set(1, 'co', 2, [1]);
    broker = await ws.start();
    await eventually(() => queued(broker!, 'readings'), (m) => m.length >= 1, 'first reading');
    // Each change of the counter is one more document, with only what changed (publish: change).
    for (const energy of [70001, 70002]) {
      await sim.set(1, 'hr', 0, [energy >>> 16, energy & 0xffff]);
      await eventually(() => queued(broker!, 'readings'), (m) => m.some((x) => (JSON.parse(x.payload) as StateDoc).values.energy === energy), `energy ${energy}`);
    }
    await sim.stop();
    assert.equal(await broker.stop(), { code: 0, signal: null });
    broker = await ws.start();
    const docs = (await queued(broker, 'readings')).map((m) => ({ topic: m.topic, doc: JSON.parse(m.payload) as StateDoc }));
    assert.ok(docs.every((d) => d.topic === 'devices/meter1/state'));
    assert.equal(docs[0]!.doc.values, { energy: 70000, volts: 231.25, relay: true });
    assert.is(docs[0]!.doc.full, true);
    assert.equal(docs[1]!.doc.values, { energy: 70001 });
    assert.equal(docs[2]!.doc.values, { energy: 70002 });
    assert.ok(docs[0]!.doc.timestamp <= docs[1]!.doc.timestamp && docs[1]!.doc.timestamp <= docs[2]!.doc.timestamp);
    // The device is gone now: the restarted process publishes why, per point, and no value.
    const after = await eventually(() => queued(broker!, 'readings'), (m) => m.length > 3, 'a document from the restarted process');
    const last = JSON.parse(after[after.length - 1]!.payload) as StateDoc;
    assert.equal(last.values, {});
    assert.equal(Object.keys(last.errors ?? {}).sort(), ['energy', 'relay', 'volts']);
  } finally {
    await broker?.crash();
    await ws.dispose();
    await sim.close();
  }
});

tcp('Modbus TCP: the retained status topic says offline when the device disappears and online when it returns', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, modbusYaml(sim.port));
  let broker: WharfProcess | undefined;
  try {
    broker = await ws.start();
    const client = await connectClient(broker.url);
    const got = collect(client);
    await client.subscribeAsync('devices/meter1/status', { qos: 1 });
    const states = () => got.messages.map((m) => (JSON.parse(m.payload) as { state: string }).state);
    await waitFor(() => states().includes('online'), 10000, 'online');
    await sim.stop();
    await waitFor(() => states().at(-1) === 'offline', 10000, 'offline');
    const offline = JSON.parse(got.messages.at(-1)!.payload) as { lastError?: string };
    assert.ok(offline.lastError && offline.lastError.length > 0, 'the status carries the last error');
    await sim.start();
    await waitFor(() => states().at(-1) === 'online', 15000, 'online again');
    assert.equal(states(), ['online', 'offline', 'online']);
    await endClient(client);
    // Retained: a subscriber arriving now is told at once.
    const late = await connectClient(broker.url);
    const lateGot = collect(late);
    await late.subscribeAsync('devices/meter1/status', { qos: 1 });
    await lateGot.waitCount(1, 5000);
    assert.is((JSON.parse(lateGot.messages[0]!.payload) as { state: string }).state, 'online');
    assert.ok(lateGot.messages[0]!.packet.retain);
    await endClient(late);
  } finally {
    await broker?.crash();
    await ws.dispose();
    await sim.close();
  }
});

rtu('RTU on a pty: a dead second unit id does not stop the first one’s readings; a bad CRC is an error, never a value', async () => {
  const pty = await PtyPair.open();
  const sim = await ModbusSim.start({ units: [1, 2], serial: pty.b, baudRate: 19200 });
  const yaml = `buses:
  - { name: rs485, type: serial, path: ${pty.a}, baudRate: 19200, parity: none }
devices:
  - { name: live, bus: rs485, unitId: 1, pollInterval: 100ms, timeout: 200ms, retries: 0, heartbeat: 1h, qos: 1, points: [ { name: count, table: holding_register, address: 5, type: uint16 } ] }
  - { name: dead, bus: rs485, unitId: 2, pollInterval: 100ms, timeout: 200ms, retries: 1, heartbeat: 1h, qos: 1, points: [ { name: count, table: holding_register, address: 5, type: uint16 } ] }
queues:
  definitions:
    - { name: live-readings, topicFilter: devices/live/state }
    - { name: dead-readings, topicFilter: devices/dead/state }
`;
  const ws = Workspace.create(undefined, yaml);
  let broker: WharfProcess | undefined;
  try {
    await sim.mute(2, true);
    await sim.set(1, 'hr', 5, [1]);
    broker = await ws.start();
    const docs = async () => (await queued(broker!, 'live-readings')).map((m) => JSON.parse(m.payload) as StateDoc);
    await eventually(docs, (d) => d.length >= 1, 'first reading of the live unit');
    for (let n = 2; n <= 5; n++) {
      await sim.set(1, 'hr', 5, [n]);
      await eventually(docs, (d) => d.some((x) => x.values.count === n), `count ${n} while unit 2 never answers`);
    }
    const dead = (await queued(broker, 'dead-readings')).map((m) => JSON.parse(m.payload) as StateDoc);
    assert.ok(dead.length >= 1 && dead.every((d) => Object.keys(d.values).length === 0 && d.errors?.count !== undefined), JSON.stringify(dead));
    // One corrupted answer: that cycle publishes the point's error; the value that follows is the real one.
    await sim.set(1, 'hr', 5, [6]);
    await eventually(docs, (d) => d.some((x) => x.values.count === 6), 'count 6');
    await sim.corrupt(1, 1);
    await eventually(docs, (d) => d.some((x) => /crc/i.test(x.errors?.count ?? '')), 'a CRC error published');
    await eventually(docs, (d) => (d.at(-1)?.values.count as number | undefined) === 6, 'the value again after the CRC error');
    const all = await docs();
    const values = all.map((d) => d.values.count).filter((v) => v !== undefined);
    assert.equal(values, [1, 2, 3, 4, 5, 6, 6], 'only values the simulator held, the CRC error in between');
    // Counted where operators look: the admin API's device status.
    const status = async (name: string) =>
      (await (await fetch(`http://127.0.0.1:${broker!.adminPort}/api/v1/devices/${name}`)).json()) as { state: string; counters: { crcErrors: number; timeouts: number; readingsPublished: number } };
    const live = await status('live');
    assert.is(live.counters.crcErrors, 1);
    assert.is(live.state, 'online');
    assert.ok(live.counters.readingsPublished >= 7);
    const gone = await status('dead');
    assert.is(gone.state, 'offline');
    assert.ok(gone.counters.timeouts >= 2);
  } finally {
    await broker?.crash();
    await ws.dispose();
    await sim.close();
    await pty.close();
  }
});

test.run();
