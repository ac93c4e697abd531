// The whole gateway in one scenario (issue 16, Tests, last bullet), as a real `wharf start` process: a Modbus
// device (the pymodbus simulator) polled into a local queue and up the bridge to a real Mosquitto while the link
// flaps (a TCP proxy dropping and restoring it); then a command published on the upstream broker while both the
// device and the link are down waits upstream, comes down when the link returns into the device's command
// last-value queue, reaches the device when it returns, and its receipt goes back up with the correlation data.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { deviceState, eventually, pumpPoints, type Receipt } from '../helpers/command-kit.js';
import { ModbusSim, pymodbusMissing, requireModbusSim } from '../helpers/modbus-sim.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { requireTool, waitFor } from '../helpers/tools.js';
import { UpstreamMosquitto } from '../helpers/upstream-mosquitto.js';
import { inOrderAtLeastOnce } from './bridge-kit.js';

const scenario = suite('bridge: the whole gateway, a Modbus device, a flapping link and a command from upstream');
// Needs both the simulator and Mosquitto; requireModbusSim says why it skips when pymodbus is missing.
const test = pymodbusMissing() === undefined ? requireTool(scenario, 'mosquitto') : requireModbusSim(scenario, 'tcp');

/** Readings (a new value each) published while the link is dropped and restored in turn. */
const READINGS = 10;

const gatewayYaml = (simPort: number, proxyPort: number) => `buses:
  - { name: plc, type: tcp, host: 127.0.0.1, port: ${simPort} }
devices:
  - name: pump1
    bus: plc
    unitId: 1
    pollInterval: 100ms
    timeout: 300ms
    retries: 0
    heartbeat: 1h
    commands: { maxDeliveries: 3, redeliveryDelay: 100ms }
${pumpPoints}queues:
  definitions:
    - { name: readings, topicFilter: devices/+/state }
bridges:
  - name: cloud
    url: mqtt://127.0.0.1:${proxyPort}
    clientId: site-17
    protocolVersion: 5
    reconnectMinDelay: 50ms
    reconnectMaxDelay: 200ms
    forward:
      - { filter: devices/+/state, remotePrefix: sites/17/, qos: 1 }
      - { filter: sites/17/receipts/#, qos: 1, priority: high }
    subscribe:
      - { filter: sites/17/devices/+/set/#, remotePrefix: sites/17/, qos: 1 }
`;

async function api(w: WharfProcess, path: string): Promise<any> {
  for (let i = 0; ; i++) {
    try {
      return await (await fetch(`http://127.0.0.1:${w.adminPort}${path}`)).json();
    } catch (err) {
      // The admin API listens a moment after the MQTT port.
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const bridgeState = async (w: WharfProcess): Promise<string> => (await api(w, '/api/v1/bridges/cloud')).state as string;
const queueDepth = async (w: WharfProcess, name: string): Promise<number | undefined> =>
  ((await api(w, '/api/v1/queues')) as { queues: { name: string; depth: number }[] }).queues.find((q) => q.name === name)?.depth;

test('readings reach the upstream in order through link flaps; a command sent while device and link were down is applied once both return, its receipt upstream with the correlation data', async () => {
  const upstream = new UpstreamMosquitto();
  await upstream.start();
  const proxy = new TcpProxy(upstream.port);
  await proxy.start();
  const sim = await ModbusSim.start({ units: [1] });
  const ws = Workspace.create(undefined, gatewayYaml(sim.port, proxy.port));
  let started: WharfProcess | undefined;
  let local: MqttClient | undefined;
  let cloud: MqttClient | undefined;
  try {
    const wharf = await ws.start();
    started = wharf;
    cloud = await connectClient(upstream.url, { clientId: 'cloud-operator' });
    const upstreamGot = collect(cloud);
    await cloud.subscribeAsync('sites/17/#', { qos: 1 });
    local = await connectClient(wharf.url, { clientId: 'local-watcher' });
    const localGot = collect(local);
    await local.subscribeAsync('devices/pump1/state', { qos: 1 });
    await deviceState(local, 'pump1', 'online');
    await eventually(() => bridgeState(wharf), (s) => s === 'healthy', 'the bridge to connect');

    // Readings while the link flaps: a new status value per step, the link dropped on odd steps and restored on even
    // ones, each change seen through (the bridge disconnected, or healthy again) before the next step.
    const readingsNow = () => localGot.messages.filter((m) => m.topic === 'devices/pump1/state').map((m) => m.payload);
    const statusOf = (payload: string) => (JSON.parse(payload) as { values?: Record<string, unknown> }).values?.status;
    for (let k = 1; k <= READINGS; k++) {
      await sim.set(1, 'hr', 40, [k]);
      await waitFor(() => readingsNow().some((p) => statusOf(p) === k), 30_000, `reading ${k} published locally`);
      const down = k % 2 === 1;
      proxy.setMode(down ? 'refuse' : 'forward');
      await eventually(() => bridgeState(wharf), (s) => s === (down ? 'disconnected' : 'healthy'), `the link ${down ? 'down' : 'back'} at step ${k}`);
    }
    const readings = readingsNow();
    const upstreamReadings = () => upstreamGot.messages.filter((m) => m.topic === 'sites/17/devices/pump1/state').map((m) => m.payload);
    await waitFor(() => inOrderAtLeastOnce(upstreamReadings(), readings) === undefined, 30_000, 'every reading upstream').catch(async (err: Error) => {
      throw new Error(`${err.message}: ${inOrderAtLeastOnce(upstreamReadings(), readings)}; ${JSON.stringify(await api(wharf, '/api/v1/bridges/cloud'))}`);
    });
    assert.is(inOrderAtLeastOnce(upstreamReadings(), readings), undefined, 'every local reading upstream, in order');
    const view = await api(wharf, '/api/v1/bridges/cloud');
    assert.ok(view.counters.reconnects >= READINGS / 2 && view.counters.disconnects >= READINGS / 2, `the link flapped (${view.counters.reconnects} reconnects)`);
    // Nobody consumes the local queue: it holds every reading the device published, beside the bridge's copy.
    assert.ok((await queueDepth(wharf, 'readings'))! >= readings.length, 'the readings are in the local queue too');

    // Device and link down; the command is published on the upstream broker, which keeps it for the bridge's session.
    proxy.setMode('refuse');
    await eventually(() => bridgeState(wharf), (s) => s === 'disconnected', 'the link to go down');
    await sim.stop();
    await deviceState(local, 'pump1', 'offline');
    await sim.reset();
    await cloud.publishAsync('sites/17/devices/pump1/set/speed', '42', {
      qos: 1,
      properties: { responseTopic: 'sites/17/receipts/cloud-operator', correlationData: Buffer.from('cmd-42') },
    });

    // The link returns first: the command comes down into the device's command queue and waits there.
    proxy.setMode('forward');
    await eventually(() => queueDepth(wharf, 'devices.pump1.commands'), (d) => d === 1, 'the command in the device queue');
    assert.equal(await sim.writes(), [], 'nothing written while the device is away');
    assert.is(upstreamGot.messages.filter((m) => m.topic.startsWith('sites/17/receipts/')).length, 0, 'no receipt yet');

    // The device returns: the command is written, read back and answered upstream with its correlation data.
    await sim.start();
    await waitFor(() => upstreamGot.messages.some((m) => m.topic === 'sites/17/receipts/cloud-operator'), 30_000, 'the receipt upstream');
    const receipt = upstreamGot.messages.find((m) => m.topic === 'sites/17/receipts/cloud-operator')!;
    assert.is(Buffer.from(receipt.packet.properties!.correlationData!).toString(), 'cmd-42');
    const r = JSON.parse(receipt.payload) as Receipt;
    assert.is(r.outcome, 'applied');
    assert.equal(r.points.speed, { value: 42, outcome: 'applied', readBack: 42 });
    assert.equal(await sim.writes(), [[1, 6, 10, [42]]], 'one write of 42 to the speed register');
    assert.equal(await sim.get(1, 'hr', 10), [42]);
    await eventually(() => queueDepth(wharf, 'devices.pump1.commands'), (d) => d === 0, 'the command queue empty');
  } catch (err) {
    // What the gateway logged says which part stopped (device, queue, bridge).
    if (started !== undefined) process.stderr.write(`wharf output:\n${started.output().slice(-4000)}\n${JSON.stringify(await api(started, '/api/v1/bridges/cloud').catch(String))}\n`);
    throw err;
  } finally {
    if (local) await endClient(local, true);
    if (cloud) await endClient(cloud, true);
    await sim.close();
    await ws.dispose();
    await proxy.stop();
    await upstream.dispose();
  }
});

scenario.run();
