// End to end, issue 11 "Figures and messages that mislead", against `wharf start` child processes and real
// MQTT.js clients: a full queue is logged as a full queue (once, not as a store failure); the start log names
// the board profile and counts the queue messages it found; `wharf status` keeps $SYS topics apart from the
// clients' retained messages and shows write amplification only once it means something; usage errors are one
// line; global options go before the command; a dead letter keeps its QoS; peek shows a last-value queue's keys.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import { runWharf, Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';

const test = suite('e2e: figures and messages say what they mean');

const QUEUES = `board: rpi4
queues:
  definitions:
    - { name: small, topicFilter: small/#, maxMessages: 2, overflow: reject }
    - { name: jobs, topicFilter: jobs/# }
    - { name: work, topicFilter: work/#, maxDeliveries: 1, deadLetter: work-dead }
    - { name: work-dead, topicFilter: dead/work }
    - { name: lights, topicFilter: lights/+/set, type: lastvalue, key: "topicLevel:1" }
    - { name: bulk, topicFilter: bulk/# }
sys:
  interval: 1s
`;

let ws: Workspace;
let broker: WharfProcess;
let admin: string;
const clients: MqttClient[] = [];

async function client(id: string, opts: Parameters<typeof connectClient>[1] = {}): Promise<MqttClient> {
  const c = await connectClient(broker.url, { clientId: id, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

const cli = (args: string[]) => runWharf(args, { timeoutMs: 15_000 });

test.before(async () => {
  ws = Workspace.create(undefined, QUEUES);
  broker = await ws.start({ logLevel: 'info' });
  admin = `127.0.0.1:${broker.adminPort}`;
});

test.after(async () => {
  await Promise.all(clients.map((c) => endClient(c, true)));
  await broker.stop();
  await ws.dispose();
});

test('the start log names the board profile and the configuration file', () => {
  assert.match(broker.output(), new RegExp(` info starting .* config=${ws.configPath.replace(/[/.]/g, '\\$&')} board=rpi4\\n`));
});

test('a queue at maxMessages: 0x97 to the publisher, one "publish refused" warning naming the queue and its limit, no "store write failed"', async () => {
  const pub = await client('full-pub', { protocolVersion: 5 });
  const codes: number[] = [];
  for (let i = 0; i < 6; i++) {
    // MQTT.js rejects a publish answered with a failure reason code, carrying the code.
    const code = await pub.publishAsync(`small/${i}`, `m${i}`, { qos: 1 }).then(
      (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
      (err: { code?: number }) => err.code ?? -1,
    );
    codes.push(code);
  }
  assert.equal(codes.slice(0, 2).map((c) => c < 0x80), [true, true], `first two accepted: ${codes}`);
  assert.equal(codes.slice(2), [0x97, 0x97, 0x97, 0x97], 'then Quota exceeded');
  // The PUBACKs came after the log line was written (both on the broker's event loop); stdout may lag a little.
  const deadline = Date.now() + 5000;
  while (!/publish refused/.test(broker.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const lines = broker.output().split('\n');
  const full = lines.filter((l) => l.includes('publish refused'));
  assert.is(full.length, 1, `one line for four refusals:\n${full.join('\n')}`);
  assert.match(full[0]!, / warn publish refused clientId=full-pub .*reason=queue_full queue=small detail=.*maxMessages limit/);
  assert.is(lines.filter((l) => /store write failed|store full/.test(l)).length, 0, 'not reported as a store failure');
});

test('wharf status: $SYS topics apart from retained messages, which match `wharf retained`', async () => {
  const pub = await client('retain-pub');
  await pub.publishAsync('site/boiler/temp', '71.5', { qos: 1, retain: true });
  const status = JSON.parse((await cli(['status', '--json', '--admin', admin])).stdout);
  const retained = JSON.parse((await cli(['retained', '--json', '--admin', admin])).stdout);
  assert.is(retained.total, 1);
  assert.is(status.retained, retained.total, 'status counts what `wharf retained` lists');
  assert.ok(status.retainedSys > 10, `the $SYS topics are counted apart: ${status.retainedSys}`);
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  assert.match(metrics, /^wharf_retained_messages 1$/m);
  assert.ok(Number(/^wharf_retained_sys_topics (\d+)$/m.exec(metrics)?.[1]) > 10, 'the $SYS gauge of its own');
  const text = (await cli(['status', '--admin', admin])).stdout;
  // The number of $SYS topics grows once rates exist (after the second sample): not compared across calls.
  const shown = /retained\s+1 \(and (\d+) \$SYS topics\)/.exec(text);
  assert.ok(shown !== null && Number(shown[1]) > 10, text);
});

test('global options before the command: wharf --admin X status / queues', async () => {
  const r = await cli(['--admin', admin, 'status']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /health\s+ready/);
  const q = await cli(['--admin', admin, '--json', 'queues']);
  assert.is(q.code, 0, q.stderr);
  assert.ok(JSON.parse(q.stdout).queues.some((x: { name: string }) => x.name === 'jobs'));
});

test('usage errors are one line with a pointer to --help, exit 2', async () => {
  for (const args of [['--bogus'], ['queues', 'frobnicate'], ['start', 'extra'], ['queues', 'peek'], ['config', '--port', 'x']]) {
    const r = await cli(args);
    assert.is(r.code, 2, args.join(' '));
    assert.is(r.stdout, '');
    assert.is(r.stderr.split('\n').length, 2, `one line for "${args.join(' ')}":\n${r.stderr}`);
    assert.match(r.stderr, /^wharf: .*; run "wharf --help" for usage\n$/);
  }
});

test('a dead letter keeps the QoS it was published and delivered with (peek shows qos 1)', async () => {
  let rejectedAtQos = -1;
  let rejected!: () => void;
  const rejectedOnce = new Promise<void>((resolve) => (rejected = resolve));
  const consumer = await client('dl-consumer', {
    protocolVersion: 5,
    // Reject every delivery (MQTT.js then emits no 'message'): with maxDeliveries 1 the message goes to work-dead.
    customHandleAcks: (_topic: string, _message: Buffer, packet: { qos: number }, done: (code: number) => void) => {
      rejectedAtQos = packet.qos;
      done(0x80);
      rejected();
    },
  } as Parameters<typeof connectClient>[1]);
  await consumer.subscribeAsync('$queue/work', { qos: 1 });
  const pub = await client('dl-pub');
  await pub.publishAsync('work/1', 'doomed', { qos: 1 });
  await rejectedOnce;
  assert.is(rejectedAtQos, 1, 'delivered to the consumer at QoS 1');
  let peek: { messages: { qos: number; payload: string; userProperties: Record<string, string> }[] } = { messages: [] };
  const deadline = Date.now() + 5000;
  while (peek.messages.length === 0 && Date.now() < deadline) {
    peek = JSON.parse((await cli(['queues', 'peek', 'work-dead', '--json', '--admin', admin])).stdout);
  }
  assert.is(peek.messages.length, 1, 'dead-lettered');
  assert.is(peek.messages[0]!.payload, 'doomed');
  assert.is(peek.messages[0]!.qos, 1);
  assert.is(peek.messages[0]!.userProperties['wharf-dead-letter-queue'], 'work');
  const reader = await client('dl-reader', { protocolVersion: 5 });
  const dead = collect(reader);
  await reader.subscribeAsync('$queue/work-dead', { qos: 1 });
  await dead.waitCount(1);
  assert.is(dead.messages[0]!.packet.qos, 1, 'delivered at QoS 1');
});

test('peek of a last-value queue has a KEY column', async () => {
  const pub = await client('lv-pub');
  await pub.publishAsync('lights/d-17/set', 'red', { qos: 1 });
  await pub.publishAsync('lights/d-18/set', 'blue', { qos: 1 });
  const r = await cli(['queues', 'peek', 'lights', '--admin', admin]);
  assert.is(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
  assert.equal(rows[0], ['SEQ', 'AGE', 'DELIVERIES', 'INFLIGHT', 'TOPIC', 'KEY', 'PAYLOAD']);
  assert.equal(rows.slice(1, 3).map((c) => [c[c.length - 3], c[c.length - 2], c[c.length - 1]]), [
    ['lights/d-17/set', 'd-17', 'red'],
    ['lights/d-18/set', 'd-18', 'blue'],
  ]);
  // A queue without keys keeps the table as it was.
  const pubJobs = await client('jobs-pub');
  await pubJobs.publishAsync('jobs/a', 'x', { qos: 1 });
  const plain = await cli(['queues', 'peek', 'jobs', '--admin', admin]);
  assert.match(plain.stdout, /^SEQ\s+AGE\s+DELIVERIES\s+INFLIGHT\s+TOPIC\s+PAYLOAD\n/);
});

test('write amplification: "-" after a few small publishes, a figure once 1 MiB of payload is stored', async () => {
  const before = JSON.parse((await cli(['status', '--json', '--admin', admin])).stdout);
  assert.ok(before.store.payloadBytesAccepted < 1024 * 1024, 'only small publishes so far');
  assert.is(before.store.writeAmplification, null);
  assert.match((await cli(['status', '--admin', admin])).stdout, /write amplification - \(/);
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  assert.not.match(metrics, /^wharf_store_write_amplification /m, 'no gauge while it means nothing');
  const pub = await client('bulk-pub');
  const payload = Buffer.alloc(64 * 1024, 0x61);
  for (let i = 0; i < 20; i++) await pub.publishAsync(`bulk/${i}`, payload, { qos: 1 });
  const after = JSON.parse((await cli(['status', '--json', '--admin', admin])).stdout);
  assert.ok(after.store.payloadBytesAccepted >= 1024 * 1024, `${after.store.payloadBytesAccepted} payload bytes`);
  assert.type(after.store.writeAmplification, 'number');
  assert.ok(after.store.writeAmplification > 0.5 && after.store.writeAmplification < 20, `a plausible ratio: ${after.store.writeAmplification}`);
  assert.match((await cli(['status', '--admin', admin])).stdout, /write amplification \d+\.\d\d\n/);
});

test('after a restart, "store opened" counts the queue messages found (not messages=0)', async () => {
  const depth = (name: string, list: { queues: { name: string; depth: number }[] }) => list.queues.find((q) => q.name === name)!.depth;
  const list = JSON.parse((await cli(['queues', '--json', '--admin', admin])).stdout);
  const expected = list.queues.reduce((n: number, q: { depth: number }) => n + q.depth, 0);
  assert.ok(depth('jobs', list) >= 1 && expected >= 20, `queues hold messages: ${expected}`);
  await Promise.all(clients.splice(0).map((c) => endClient(c, true)));
  assert.equal(await broker.stop(), { code: 0, signal: null });
  broker = await ws.start({ logLevel: 'info' });
  admin = `127.0.0.1:${broker.adminPort}`;
  const deadline = Date.now() + 5000;
  while (!/store opened/.test(broker.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.match(broker.output(), new RegExp(` info store opened sessions=\\d+ sessionMessages=\\d+ queues=6 queueMessages=${expected} `));
});

test('wharf config: the merged configuration with the source of each value (board, file, environment, option)', async () => {
  const r = await runWharf(['config', '--config', ws.configPath, '--data', '/var/lib/wharf-x', '--json'], { env: { WHARF_LOG_LEVEL: 'debug' } });
  assert.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { file: string; board: { name: string }; values: { path: string; value: unknown; source: string }[] };
  assert.is(j.file, ws.configPath);
  assert.is(j.board.name, 'rpi4');
  const at = (path: string) => j.values.find((v) => v.path === path);
  assert.equal(at('storage.commitIntervalMs'), { path: 'storage.commitIntervalMs', value: 20, source: 'board rpi4' });
  assert.equal(at('mqtt.maxQueuedMessages'), { path: 'mqtt.maxQueuedMessages', value: 1_000_000, source: `file ${ws.configPath}` }, 'the file wins over the board');
  assert.equal(at('storage.dataDir'), { path: 'storage.dataDir', value: '/var/lib/wharf-x', source: '--data' });
  assert.equal(at('log.level'), { path: 'log.level', value: 'debug', source: 'WHARF_LOG_LEVEL' });
  assert.equal(at('mqtt.receiveMaximum')?.source, 'default');
  assert.equal(at('sys.intervalMs'), { path: 'sys.intervalMs', value: 1000, source: `file ${ws.configPath}` });
  const human = await runWharf(['config', '-c', ws.configPath, '--port', '1999']);
  assert.is(human.code, 0, human.stderr);
  assert.match(human.stdout, new RegExp(`^configuration: ${ws.configPath.replace(/[/.]/g, '\\$&')}; board profile: rpi4 \\(`));
  assert.match(human.stdout, /\nlisteners\[0\]\.port\s+1999\s+--port\n/);
  assert.match(human.stdout, /\nstorage\.commitIntervalMs\s+20\s+board rpi4\n/);
  const bad = await runWharf(['config', '-c', ws.configPath, '--log-level', 'loud']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /log\.level|--log-level/);
});

test.run();
