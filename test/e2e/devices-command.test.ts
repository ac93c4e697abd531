// End to end, issue 15: commands to a Modbus device through its durable last-value command queue, against the
// pymodbus simulator (its write log and request counters say what reached the device), with MQTT.js (MQTT 5
// request / response) and mosquitto_pub (3.1.1) as senders.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { ModbusSim, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { run, waitFor } from '../helpers/tools.js';
import { deviceState, eventually, pumpPoints, type Receipt } from '../helpers/command-kit.js';

const test = suite('e2e devices: commands through last-value queues, written, read back, answered');
const tcp = requireModbusSim(test, 'tcp');

const pumpYaml = (port: number) => `buses:
  - { name: plc, type: tcp, host: 127.0.0.1, port: ${port} }
devices:
  - name: pump1
    bus: plc
    unitId: 1
    pollInterval: 100ms
    timeout: 300ms
    retries: 0
    heartbeat: 1h
    commands: { maxDeliveries: 2, redeliveryDelay: 100ms }
${pumpPoints}`;

async function adminJson(broker: WharfProcess, path: string): Promise<unknown> {
  let res: Response | undefined;
  for (let i = 0; res === undefined; i++) {
    res = await fetch(`http://127.0.0.1:${broker.adminPort}${path}`).catch((err: unknown) => (i < 100 ? new Promise<undefined>((r) => setTimeout(r, 50)) : Promise.reject(err)));
  }
  return res.json();
}

function receipts(messages: { topic: string; payload: string }[], topic: string): Receipt[] {
  return messages.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload) as Receipt);
}

const writesOnly = (counts: Record<string, Record<string, number>>) =>
  [5, 6, 15, 16].reduce((n, fc) => n + (counts['1']?.[String(fc)] ?? 0), 0);

tcp('offline device: set speed 30, 45, 60 and valve true; on return one write each, applied for 60 with its correlation data, superseded for 30 and 45', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.stop();
    await deviceState(client, 'pump1', 'offline');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('replies/operator', { qos: 1 });
    for (const speed of [30, 45, 60]) {
      await client.publishAsync('devices/pump1/set/speed', String(speed), { qos: 1, properties: { responseTopic: 'replies/operator', correlationData: Buffer.from(`c${speed}`) } });
    }
    await client.publishAsync('devices/pump1/set/valve', 'true', { qos: 1, properties: { responseTopic: 'replies/operator', correlationData: Buffer.from('valve') } });
    // The queue is an ordinary one: the admin API lists it with one waiting command per point.
    const queues = (await adminJson(broker, '/api/v1/queues')) as { queues: { name: string; depth: number }[] };
    const q = queues.queues.find((x) => x.name === 'devices.pump1.commands');
    assert.ok(q, 'the command queue is listed');
    assert.is(q!.depth, 2, 'speed 60 and valve wait; 30 and 45 were replaced');
    await got.waitCount(2, 5000);
    assert.equal(
      got.messages.map((m) => [Buffer.from(m.packet.properties!.correlationData!).toString(), (JSON.parse(m.payload) as Receipt).outcome]),
      [
        ['c30', 'superseded'],
        ['c45', 'superseded'],
      ],
    );
    assert.equal(await sim.writes(), [], 'nothing written while the device is away');
    await sim.start();
    await got.waitCount(4, 15000);
    const byCorrelation = new Map(got.messages.map((m) => [Buffer.from(m.packet.properties!.correlationData!).toString(), JSON.parse(m.payload) as Receipt]));
    const applied = byCorrelation.get('c60')!;
    assert.is(applied.outcome, 'applied');
    assert.equal(applied.points.speed, { value: 60, outcome: 'applied', readBack: 60 });
    assert.ok(applied.writtenAt !== undefined && Date.parse(applied.writtenAt) >= Date.parse(applied.receivedAt));
    assert.is(byCorrelation.get('valve')!.points.valve!.readBack, true);
    const writes = await sim.writes();
    assert.equal(
      writes.sort((a, b) => a[1] - b[1]),
      [
        [1, 5, 3, [1]],
        [1, 6, 10, [60]],
      ],
      'exactly one write of 60 to the speed register (FC 06) and one to the valve coil (FC 05)',
    );
    assert.equal(await sim.get(1, 'hr', 10), [60]);
    await waitFor(() => got.messages.length === 4, 100).catch(() => undefined);
    assert.is(got.messages.length, 4, 'one receipt per command');
    // The device API counts them per point: four received, two applied, two superseded.
    const device = (await adminJson(broker, '/api/v1/devices/pump1')) as { commands: Record<string, number> };
    assert.equal(device.commands, { received: 4, applied: 2, rejected: 0, expired: 0, superseded: 2, failed: 0 });
    const list = (await adminJson(broker, '/api/v1/devices')) as { devices: { name: string; commands?: Record<string, number> }[] };
    assert.is(list.devices.find((d) => d.name === 'pump1')!.commands!.applied, 2);
    const metrics = await (await fetch(`http://127.0.0.1:${broker.adminPort}/metrics`)).text();
    assert.match(metrics, /wharf_device_commands_total\{device="pump1",bus="plc",outcome="superseded"\} 2/);
    const cli = await run(process.execPath, [new URL('../../src/cli/main.js', import.meta.url).pathname, '--admin', `127.0.0.1:${broker.adminPort}`, 'devices', 'show', 'pump1']);
    assert.match(cli.stdout, /commands\s+4 received: 2 applied, 0 rejected, 0 expired, 2 superseded, 0 failed/);
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

tcp('bad commands are refused at publish time with their reason code and a rejected receipt; nothing reaches the wire', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('devices/pump1/results', { qos: 1 });
    const cases: [string, string, number, string][] = [
      ['devices/pump1/set/speed', '150', 0x99, 'above max'],
      ['devices/pump1/set/speed', '"fast"', 0x99, 'expected a number'],
      ['devices/pump1/set/status', '1', 0x87, 'not writable'],
      ['devices/pump1/set/nozzle', '1', 0x99, 'unknown point'],
      ['devices/pump1/set/mode', '5', 0x99, 'not one of the allowed values'],
      ['devices/pump1/set', '{"speed": 10, "valve": "open"}', 0x99, 'expected true or false'],
    ];
    for (const [topic, payload, code] of cases) {
      // MQTT.js rejects a PUBACK of 0x80 or more with an error carrying the reason code.
      const reasonCode = await client.publishAsync(topic, payload, { qos: 1 }).then(
        () => 0,
        (err: { code?: number }) => err.code,
      );
      assert.is(reasonCode, code, `${topic} ${payload}`);
    }
    // MQTT 3.1.1 cannot hear a reason code: acknowledged (mosquitto_pub exits 0), not queued, receipt rejected.
    const pub = await run('mosquitto_pub', ['-V', 'mqttv311', '-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 'devices/pump1/set/speed', '-m', '-1']);
    assert.is(pub.code, 0, pub.stderr);
    await got.waitCount(cases.length + 1, 5000);
    const rs = receipts(got.messages, 'devices/pump1/results');
    cases.forEach(([, , , why], i) => {
      assert.is(rs[i]!.outcome, 'rejected');
      assert.match(rs[i]!.reason!, why);
    });
    assert.is(rs[cases.length]!.outcome, 'rejected');
    assert.match(rs[cases.length]!.reason!, 'below min');
    const queues = (await adminJson(broker, '/api/v1/queues')) as { queues: { name: string; depth: number }[] };
    assert.is(queues.queues.find((x) => x.name === 'devices.pump1.commands')!.depth, 0, 'nothing queued');
    const device = (await adminJson(broker, '/api/v1/devices/pump1')) as { commands: Record<string, number> };
    assert.equal(device.commands, { received: 8, applied: 0, rejected: 8, expired: 0, superseded: 0, failed: 0 }, 'per point: the multi-point command counts twice');
    // The device's request counters: polls only, not one write function code.
    assert.is(writesOnly(await sim.counts()), 0);
    assert.equal(await sim.writes(), []);
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

tcp('multi-point command: one receipt; float32 CDAB and int32 in consecutive registers in one FC 16 request; read back', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('devices/pump1/results', { qos: 1 });
    await client.publishAsync('devices/pump1/set', JSON.stringify({ setpoint: 12.5, total: -100000, speed: 20 }), { qos: 1 });
    await got.waitCount(1, 10000);
    const r = JSON.parse(got.messages[0]!.payload) as Receipt;
    assert.is(r.outcome, 'applied');
    assert.equal(r.points, {
      setpoint: { value: 12.5, outcome: 'applied', readBack: 12.5 },
      total: { value: -100000, outcome: 'applied', readBack: -100000 },
      speed: { value: 20, outcome: 'applied', readBack: 20 },
    });
    const f = Buffer.alloc(4);
    f.writeFloatBE(12.5);
    const t = Buffer.alloc(4);
    t.writeInt32BE(-100000);
    // CDAB: the low word first; int32 in the device's default ABCD.
    const words = [f.readUInt16BE(2), f.readUInt16BE(0), t.readUInt16BE(0), t.readUInt16BE(2)];
    assert.equal((await sim.writes()).sort((a, b) => a[1] - b[1]), [
      [1, 6, 10, [20]],
      [1, 16, 20, words],
    ]);
    assert.equal(await sim.get(1, 'hr', 20, 4), words);
    await new Promise((res) => setTimeout(res, 300));
    assert.is(got.messages.length, 1, 'exactly one receipt for the command');
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

tcp('a read-back mismatch fails; a device exception is rejected; each is retried to maxDeliveries, then dead-lettered with its reason', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    await sim.ignoreWrites(1, 'hr', [50, 51]);
    await sim.failWrites(1, 'hr', [60]);
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('replies/#', { qos: 1 });
    await client.publishAsync('devices/pump1/set/limit', '7', { qos: 1, properties: { responseTopic: 'replies/limit', correlationData: Buffer.from('L') } });
    await client.publishAsync('devices/pump1/set/mode', '1', { qos: 1, properties: { responseTopic: 'replies/mode', correlationData: Buffer.from('M') } });
    await got.waitCount(2, 10000);
    const limit = receipts(got.messages, 'replies/limit')[0]!;
    assert.is(limit.outcome, 'failed');
    assert.match(limit.reason!, 'read back 0 after writing 7');
    assert.is(limit.points.limit!.readBack, 0);
    const mode = receipts(got.messages, 'replies/mode')[0]!;
    assert.is(mode.outcome, 'rejected');
    assert.match(mode.reason!, 'Modbus exception 0x04');
    // maxDeliveries 2: the ignored write reached the device twice, the refused one never was kept.
    const writes = await sim.writes();
    assert.equal(writes, [
      [1, 16, 50, [0, 7]],
      [1, 16, 50, [0, 7]],
    ]);
    assert.is((await sim.counts())['1']!['6'], 2, 'the failing register was tried twice (FC 06)');
    const dead = (await eventually(
      () => adminJson(broker, '/api/v1/queues/devices.pump1.commands.dead/messages?limit=10'),
      (v) => ((v as { messages?: unknown[] }).messages?.length ?? 0) === 2,
      'two dead letters',
    )) as { messages: { topic: string; userProperties?: Record<string, string>; properties?: { userProperties?: Record<string, string> } }[] };
    const props = dead.messages.map((m) => m.userProperties ?? m.properties?.userProperties ?? {});
    const detail = props.map((p) => p['wharf-dead-letter-detail']).sort();
    assert.match(detail[0]!, 'failed: read back 0');
    assert.match(detail[1]!, 'rejected: Modbus exception 0x04');
    assert.equal(props.map((p) => p['wharf-delivery-count']), ['2', '2']);
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

tcp('a command whose Message Expiry Interval passes while the device is away is not written: expired', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    const broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.stop();
    await deviceState(client, 'pump1', 'offline');
    await sim.reset();
    const got = collect(client);
    await client.subscribeAsync('devices/pump1/results', { qos: 1 });
    await client.publishAsync('devices/pump1/set/speed', '33', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await new Promise((r) => setTimeout(r, 1500));
    await sim.start();
    await deviceState(client, 'pump1', 'online');
    await eventually(async () => receipts(got.messages, 'devices/pump1/results'), (rs) => rs.length === 1, 'the receipt');
    const r = receipts(got.messages, 'devices/pump1/results')[0]!;
    assert.is(r.outcome, 'expired');
    assert.is(r.points.speed!.value, 33);
    assert.equal(await sim.writes(), []);
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

tcp('kill -9 while commands wait for an offline device: after the restart only the latest value per point is written, once; a multi-point command still gets one receipt', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, pumpYaml(sim.port));
  let client: MqttClient | undefined;
  try {
    let broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    await deviceState(client, 'pump1', 'online');
    await sim.stop();
    await deviceState(client, 'pump1', 'offline');
    await sim.reset();
    const reply = (c: string) => ({ qos: 1 as const, properties: { responseTopic: 'replies/operator', correlationData: Buffer.from(c) } });
    for (const speed of [30, 45, 70]) await client.publishAsync('devices/pump1/set/speed', String(speed), { qos: 1 });
    // A: its valve part is superseded before the kill (a result kept in the store), its setpoint written after it.
    await client.publishAsync('devices/pump1/set', JSON.stringify({ valve: true, setpoint: 1.5 }), reply('A'));
    await client.publishAsync('devices/pump1/set/valve', 'false', { qos: 1 });
    // B: nothing of it settles before the kill.
    await client.publishAsync('devices/pump1/set', JSON.stringify({ total: 7, mode: 2 }), reply('B'));
    await endClient(client, true);
    client = undefined;
    await broker.crash();
    broker = await ws.start();
    client = await connectClient(broker.url, { clientId: 'operator' });
    const got = collect(client);
    await client.subscribeAsync('devices/pump1/results', { qos: 1 });
    await client.subscribeAsync('replies/operator', { qos: 1 });
    await sim.start();
    await got.waitCount(4, 15000);
    const writes = (await sim.writes()).sort((a, b) => a[2] - b[2] || a[1] - b[1]);
    const f = Buffer.alloc(4);
    f.writeFloatBE(1.5);
    assert.equal(writes.map((w) => [w[1], w[2]]), [
      [5, 3],
      [6, 10],
      [16, 20],
      [16, 22],
      [6, 60],
    ], 'each point written once');
    assert.equal(writes[0]![3], [0], 'the valve takes its latest command, false');
    assert.equal(writes[1]![3], [70]);
    assert.equal(writes[2]![3], [f.readUInt16BE(2), f.readUInt16BE(0)]);
    const rs = receipts(got.messages, 'devices/pump1/results');
    assert.equal(rs.map((r) => [Object.keys(r.points), r.outcome]).sort(), [
      [['speed'], 'applied'],
      [['valve'], 'applied'],
    ]);
    const replies = new Map(got.messages.filter((m) => m.topic === 'replies/operator').map((m) => [Buffer.from(m.packet.properties!.correlationData!).toString(), JSON.parse(m.payload) as Receipt]));
    assert.is(replies.size, 2, 'one receipt for each multi-point command, with its correlation data');
    const a = replies.get('A')!;
    assert.is(a.outcome, 'partial');
    assert.equal(a.points.valve, { value: true, outcome: 'superseded', reason: 'a newer command for this point replaced it' });
    assert.equal(a.points.setpoint, { value: 1.5, outcome: 'applied', readBack: 1.5 });
    const b = replies.get('B')!;
    assert.is(b.outcome, 'applied');
    assert.equal(Object.keys(b.points).sort(), ['mode', 'total']);
    await waitFor(() => got.messages.length > 4, 300).catch(() => undefined);
    assert.is(got.messages.length, 4, 'no part answers alone');
  } finally {
    if (client) await endClient(client, true);
    await sim.close();
    await ws.dispose();
  }
});

test.run();
