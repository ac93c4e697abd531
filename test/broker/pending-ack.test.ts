// Acknowledgements waiting for the store (src/broker/pending-ack.ts, Connection.queueAck): they leave in the
// order of their packets whatever order their writes become durable in [MQTT-4.6.0-2], with the first failure.

import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Broker } from '../../src/broker/broker.js';
import { Connection } from '../../src/broker/connection.js';
import type { PendingAck } from '../../src/broker/pending-ack.js';

const test = suite('pending acknowledgements');

const sent: { id: number; err: unknown }[] = [];

function record(ack: PendingAck, err: unknown): void {
  sent.push({ id: ack.packetId, err });
}

function connection(): Connection {
  const broker = { config: { mqtt: { maxPacketSize: 0 } }, connectTimeoutMs: 0 } as unknown as Broker;
  return new Connection(new PassThrough(), broker, '127.0.0.1');
}

/** An acknowledgement for packet `id` waiting for `writes` store writes, queued. */
function queued(conn: Connection, id: number, writes: number): PendingAck {
  const ack = conn.pendingAck(record, id, 1, 0);
  ack.waiting += writes;
  conn.queueAck(ack);
  return ack;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test.before.each(() => {
  sent.length = 0;
});

test('with nothing to wait for and nothing before it, an acknowledgement is sent at once', () => {
  const conn = connection();
  queued(conn, 7, 0);
  assert.equal(sent, [{ id: 7, err: undefined }]);
});

test('acknowledgements leave in packet order when their writes become durable out of order', async () => {
  const conn = connection();
  const first = queued(conn, 1, 1);
  queued(conn, 2, 0);
  const third = queued(conn, 3, 2);
  third.durable(undefined);
  third.durable(undefined);
  await tick();
  assert.equal(sent, [], 'nothing leaves before the first is durable');
  first.durable(undefined);
  assert.equal(sent, [], 'sent on the next tick, not from inside the commit');
  await tick();
  assert.equal(sent.map((s) => s.id), [1, 2, 3]);
  queued(conn, 4, 0);
  assert.equal(sent.map((s) => s.id), [1, 2, 3, 4], 'once drained, the next goes at once again');
});

test('an acknowledgement hears of the first of its writes that failed', async () => {
  const conn = connection();
  const ack = queued(conn, 5, 3);
  const full = new Error('full');
  ack.durable(undefined);
  ack.durable(full);
  ack.durable(new Error('later'));
  await tick();
  assert.equal(sent.length, 1);
  assert.is(sent[0]!.err, full);
});

test('an acknowledgement waiting for a promise keeps its place among the others', async () => {
  const conn = connection();
  let settle!: () => void;
  const order: string[] = [];
  conn.acknowledge(new Promise<void>((resolve) => (settle = resolve)), () => order.push('suback'));
  conn.queueAck(conn.pendingAck(() => order.push('puback'), 9, 1, 0));
  await tick();
  assert.equal(order, []);
  settle();
  await tick();
  assert.equal(order, ['suback', 'puback']);
});

test.run();
