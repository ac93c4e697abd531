// End to end, issue 5: kill -9 between replacements. A real `wharf` process with a last-value queue keyed by the
// device level of lights/<device>/commands is SIGKILLed while values are being replaced, and restarted on the same
// data directory. Per key the survivor is the last acknowledged publish: a PUBACK means its commit (which removed
// the replaced value) is on disk. Only a publish sent after it and never answered may have made it too (committed,
// its PUBACK lost in the kill); never an older value, never two values of one key.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { until } from '../helpers/queue-clients.js';
import { RawClient } from '../helpers/raw-client.js';
import { prng, seedFrom } from '../helpers/prng.js';

const test = suite('e2e last-value queues: SIGKILL between replacements');

const KEYS = 40;
const WINDOW = 64;
const SENTINEL = 'sentinel/end';
const QUEUES_YAML = `queues:
  definitions:
    - name: cmds
      topicFilter: lights/+/commands
      type: lastvalue
      key: topicLevel:1
      consumerInflight: 64
`;
/** The kill comes right after this many publishes were acknowledged (every key has one by then): 5 to 12 rounds. */
const KILL_AFTER_ACKED: [number, number] = [5 * KEYS, 12 * KEYS];
/** A bound on waits that must end (a PUBACK, the kill point): they fail only when the thing never happens. */
const MUST_HAPPEN_MS = 30_000;
const SEED = seedFrom('WHARF_LASTVALUE_CRASH_SEED');

const topicOf = (k: number) => `lights/l${k}/commands`;

interface PublishLog {
  /** Publishes acknowledged so far (the log fills while publishRounds runs). */
  acked: number;
  /** Per key: the highest value acknowledged (0: none). */
  lastAcked: number[];
  /** Per key: the values sent and never answered. */
  unanswered: number[][];
  sent: number;
  connectionLost: boolean;
}

const newLog = (): PublishLog => ({ acked: 0, lastAcked: new Array(KEYS).fill(0), unanswered: Array.from({ length: KEYS }, () => []), sent: 0, connectionLost: false });

/**
 * Publishes value 1 for every key, then value 2 for every key, ... up to `rounds`, QoS 1, WINDOW in flight, into
 * `log`; returns it when all are answered or the connection ends (a PUBACK that never comes otherwise fails).
 */
async function publishRounds(c: RawClient, rounds: number, log = newLog()): Promise<PublishLog> {
  const inflight = new Map<number, [number, number]>();
  const total = rounds * KEYS;
  let next = 0;
  let id = 0;
  const pump = () => {
    while (next < total && inflight.size < WINDOW) {
      const k = next % KEYS;
      const v = Math.floor(next / KEYS) + 1;
      next++;
      id = id >= 65000 ? 1 : id + 1;
      inflight.set(id, [k, v]);
      c.send({ cmd: 'publish', topic: topicOf(k), payload: Buffer.from(String(v)), qos: 1, retain: false, dup: false, messageId: id } as Packet);
      log.sent++;
    }
  };
  pump();
  while (inflight.size > 0) {
    let ack: Packet & { messageId?: number; reasonCode?: number };
    try {
      ack = (await c.next('puback', MUST_HAPPEN_MS)) as typeof ack;
    } catch (err) {
      // Only the kill ends publishing; a slow PUBACK is waited for, not taken for a crash.
      if (!c.isClosed) throw err;
      log.connectionLost = true;
      break;
    }
    const entry = inflight.get(ack.messageId!);
    if (entry === undefined) throw new Error(`PUBACK for unknown packet ${ack.messageId}`);
    inflight.delete(ack.messageId!);
    log.acked++;
    if ((ack.reasonCode ?? 0) >= 0x80) throw new Error(`PUBACK 0x${ack.reasonCode!.toString(16)} for ${topicOf(entry[0])}=${entry[1]}`);
    // Commits are in order: this value's key was acknowledged up to here.
    log.lastAcked[entry[0]] = Math.max(log.lastAcked[entry[0]]!, entry[1]);
    pump();
  }
  for (const [k, v] of inflight.values()) log.unanswered[k]!.push(v);
  return log;
}

/** Connects to the queue after a restart and returns, per key, the values it holds (acknowledging them). */
async function queueContents(broker: WharfProcess, expectedKeys: number): Promise<Map<number, number[]>> {
  const { client: c } = await RawClient.connected(broker.port, { clientId: 'light-fleet' }, 5);
  try {
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: SENTINEL, qos: 0 }] } as Packet);
    await c.next('suback');
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$queue/cmds', qos: 1 }] } as Packet);
    const got = new Map<number, number[]>();
    let count = 0;
    let sentinelSent = false;
    for (;;) {
      const p = await c.next(undefined, MUST_HAPPEN_MS);
      if (p.cmd === 'suback') continue;
      if (p.cmd !== 'publish') throw new Error(`unexpected ${p.cmd}`);
      const pub = p as IPublishPacket;
      if (pub.topic === SENTINEL) break;
      c.send({ cmd: 'puback', messageId: pub.messageId!, reasonCode: 0 } as Packet);
      const k = Number(/^lights\/l(\d+)\/commands$/.exec(pub.topic)![1]);
      got.set(k, [...(got.get(k) ?? []), Number(pub.payload.toString())]);
      // Once the expected keys are in, a sentinel: anything else the queue had would be written before it.
      if (++count >= expectedKeys && !sentinelSent) {
        sentinelSent = true;
        c.send({ cmd: 'publish', topic: SENTINEL, payload: Buffer.from('end'), qos: 0, retain: false, dup: false } as Packet);
      }
    }
    return got;
  } finally {
    c.end();
  }
}

const random = prng(SEED);
console.log(`\n  last-value crash: seed ${SEED} (WHARF_LASTVALUE_CRASH_SEED=${SEED} replays the kill point)`);

test('SIGKILL while 40 keys are being replaced: after the restart each key holds its last acknowledged value (or a later unanswered one), once', async () => {
  const killAfterAcked = Math.round(KILL_AFTER_ACKED[0] + random() * (KILL_AFTER_ACKED[1] - KILL_AFTER_ACKED[0]));
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  let pub: RawClient | undefined;
  try {
    broker = await ws.start();
    pub = (await RawClient.connected(broker.port, { clientId: 'phone-app' }, 5)).client;
    const log = newLog();
    const publishing = publishRounds(pub, 100_000, log);
    // The kill comes after an observed point, not at a time: the same point on a fast or a loaded machine.
    const atKillPoint = await until(() => log.acked >= killAfterAcked || log.connectionLost, MUST_HAPPEN_MS, 1);
    assert.ok(atKillPoint && !log.connectionLost, `${killAfterAcked} publishes acknowledged before the kill`);
    await broker.crash();
    await publishing;
    assert.ok(log.connectionLost && log.sent < 100_000 * KEYS, 'still publishing at the kill');
    assert.ok(log.lastAcked.every((v) => v > 0), 'every key had an acknowledged value before the kill');

    broker = await ws.start();
    const got = await queueContents(broker, KEYS);
    const exact = log.lastAcked.filter((v, k) => got.get(k)?.[0] === v).length;
    console.log(
      `  kill after ${log.acked} acknowledged publishes (point ${killAfterAcked}): ${log.sent} sent, last acknowledged round ${Math.min(...log.lastAcked)}-${Math.max(...log.lastAcked)}, ` +
        `${log.unanswered.flat().length} unanswered; survivors: ${exact} last acknowledged, ${KEYS - exact} a later unanswered publish`,
    );
    for (let k = 0; k < KEYS; k++) {
      const values = got.get(k) ?? [];
      assert.is(values.length, 1, `key l${k}: one value, got ${JSON.stringify(values)}`);
      const v = values[0]!;
      const ok = v === log.lastAcked[k] || (v > log.lastAcked[k]! && log.unanswered[k]!.includes(v));
      assert.ok(ok, `key l${k}: survivor ${v}, last acknowledged ${log.lastAcked[k]}, unanswered ${JSON.stringify(log.unanswered[k])}`);
    }
    assert.is(got.size, KEYS);
  } finally {
    pub?.end();
    await broker?.crash();
    await ws.dispose();
  }
});

test('SIGKILL right after the last PUBACK, with older values in flight to an unacknowledging consumer: after the restart each key holds exactly its last value', async () => {
  const ws = Workspace.create(undefined, QUEUES_YAML);
  let broker: WharfProcess | undefined;
  const clients: RawClient[] = [];
  try {
    broker = await ws.start();
    const pub = (await RawClient.connected(broker.port, { clientId: 'phone-app' }, 5)).client;
    clients.push(pub);
    const first = await publishRounds(pub, 1);
    assert.ok(first.lastAcked.every((v) => v === 1));
    // A consumer takes every value 1 and never acknowledges it.
    const holder = (await RawClient.connected(broker.port, { clientId: 'holder' }, 5)).client;
    clients.push(holder);
    holder.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$queue/cmds', qos: 1 }] } as Packet);
    const held: number[] = [];
    while (held.length < KEYS) {
      const p = await holder.next(undefined, MUST_HAPPEN_MS);
      if (p.cmd === 'publish') held.push(Number((p as IPublishPacket).payload.toString()));
    }
    assert.ok(held.every((v) => v === 1));
    const rest = await publishRounds(pub, 3); // values 1, 2, 3 again: 3 is the last of every key
    assert.ok(!rest.connectionLost && rest.lastAcked.every((v) => v === 3));
    await broker.crash();

    broker = await ws.start();
    const got = await queueContents(broker, KEYS);
    assert.equal(
      [...got].filter(([, vs]) => vs.length !== 1 || vs[0] !== 3),
      [],
      'every key: exactly value 3 (value 1, in flight at the kill and replaced since, is gone)',
    );
    assert.is(got.size, KEYS);
  } finally {
    for (const c of clients) c.end();
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
