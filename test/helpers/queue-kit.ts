// Helpers for the durable queue tests (test/broker/11-queues): a broker with a real store per test whose clients
// are always closed, queue definitions from the configured defaults, raw consumers that count what they get, and
// a "sentinel" to know that everything the broker sent before has arrived.

import type { IPublishPacket, Packet } from 'mqtt-packet';
import type { MqttLimits, WharfConfig } from '../../src/config/types.js';
import type { Queue } from '../../src/queue/queue.js';
import type { QueueDefinition } from '../../src/queue/types.js';
import { startBroker } from './broker.js';
import { packetsBefore } from './end-marker.js';
import type { RawClient } from './raw-client.js';
import { Harness, subscribe } from './sub-harness.js';
import { waitFor } from './tools.js';

/** A complete definition: the configured defaults, then `fields`. */
export function queueDef(c: WharfConfig, fields: Partial<QueueDefinition> & { name: string; topicFilter: string }): QueueDefinition {
  return { ...c.queues.defaults, ...fields };
}

/** Declares `defs` (built from the configured defaults) on the configuration. */
export function declare(...defs: Array<Partial<QueueDefinition> & { name: string; topicFilter: string }>): (c: WharfConfig) => void {
  return (c) => {
    c.queues.definitions = defs.map((d) => queueDef(c, d));
  };
}

/** Runs `fn` against a broker with a real store; clients made through the harness and the broker always end. */
export async function withQueues(tweak: ((c: WharfConfig) => void) | undefined, fn: (h: Harness) => Promise<void>, limits: Partial<MqttLimits> = {}): Promise<void> {
  const tb = await startBroker(limits, tweak, { durable: true });
  const h = new Harness(tb);
  try {
    await fn(h);
  } finally {
    await h.close();
    await tb.stop();
  }
}

export function queueOf(h: Harness, name: string): Queue {
  const q = h.broker.queues!.queueByName(name);
  if (q === undefined) throw new Error(`no queue named ${name}`);
  return q;
}

/** SUBACK reason codes (granted QoS or failure) for one SUBSCRIBE of these filters. */
export async function subscribeCodes(c: RawClient, filters: string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  const suback = await subscribe(
    c,
    filters.map((topic) => ({ topic, qos })),
  );
  return suback.granted as number[];
}

let nextId = 1;
function packetId(): number {
  nextId = nextId >= 65000 ? 1 : nextId + 1;
  return nextId;
}

/** Publishes; for QoS 1 returns the PUBACK reason code (the append is durable by then), for QoS 0 after a ping. */
export async function send(c: RawClient, topic: string, payload: string, opts: { qos?: 0 | 1; properties?: Record<string, unknown> } = {}): Promise<number> {
  const qos = opts.qos ?? 1;
  const messageId = qos > 0 ? packetId() : undefined;
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, messageId, properties: opts.properties } as Packet);
  if (qos === 0) {
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
    return 0;
  }
  const ack = (await c.next('puback')) as Packet & { messageId?: number; reasonCode?: number };
  if (ack.messageId !== messageId) throw new Error(`PUBACK for ${ack.messageId}, expected ${messageId}`);
  return ack.reasonCode ?? 0;
}

/** Publishes `payloads` at QoS 1 to `topic`, each acknowledged with success (< 0x80). */
export async function sendAll(c: RawClient, topic: string, payloads: string[]): Promise<void> {
  for (const p of payloads) {
    const rc = await send(c, topic, p);
    if (rc >= 0x80) throw new Error(`publish of ${p} refused with 0x${rc.toString(16)}`);
  }
}

export const SENTINEL = 'sentinel/end';

/**
 * Every PUBLISH `c` got until the sentinel: the caller publishes on SENTINEL after the broker state it waits for,
 * so everything written to this consumer before is in the list. `c` must subscribe to SENTINEL itself.
 */
export async function untilSentinel(c: RawClient, timeoutMs = 2000): Promise<IPublishPacket[]> {
  const got = await packetsBefore(c, (p) => p.cmd === 'publish' && p.topic === SENTINEL, timeoutMs);
  const other = got.find((p) => p.cmd !== 'publish');
  if (other !== undefined) throw new Error(`expected publish, got ${other.cmd}`);
  return got as IPublishPacket[];
}

/** Publishes the sentinel and returns, per consumer, the PUBLISHes that came before it. */
export async function flushed(pub: RawClient, consumers: RawClient[]): Promise<IPublishPacket[][]> {
  await send(pub, SENTINEL, 'end', { qos: 0 });
  return Promise.all(consumers.map((c) => untilSentinel(c)));
}

/** A raw consumer: connected, subscribed to `filter` (and to the sentinel at QoS 0). */
export async function rawConsumer(h: Harness, filter: string, opts: { clientId?: string; version?: 4 | 5; qos?: 0 | 1 | 2; connect?: Record<string, unknown> } = {}): Promise<RawClient> {
  const c = await h.raw({ clientId: opts.clientId ?? '', ...opts.connect }, opts.version ?? 5);
  // The sentinel first: a queue with a backlog may deliver before a later SUBACK.
  await subscribeCodes(c, [SENTINEL], 0);
  const codes = await subscribeCodes(c, [filter], opts.qos ?? 1);
  if (codes[0]! >= 0x80) throw new Error(`SUBSCRIBE ${filter} refused with 0x${codes[0]!.toString(16)}`);
  return c;
}

/** A PINGREQ round trip: what `c` sent before has been handled by the broker. `c` must expect nothing else. */
export async function sync(c: RawClient): Promise<void> {
  c.send({ cmd: 'pingreq' });
  await c.next('pingresp');
}

export function ack(c: RawClient, p: IPublishPacket, reasonCode = 0): void {
  c.send({ cmd: 'puback', messageId: p.messageId!, reasonCode } as Packet);
}

export function text(p: IPublishPacket): string {
  return p.payload.toString();
}

/** Waits (polling the broker's state) until `cond` holds. */
export function until(cond: () => boolean, what = 'queue state', timeoutMs = 2000): Promise<void> {
  return waitFor(cond, timeoutMs, what);
}

/** Publishes all `payloads` at QoS 1 without waiting in between, then checks every PUBACK is a success. */
export async function sendMany(c: RawClient, topic: string, payloads: string[]): Promise<void> {
  const ids = payloads.map((payload) => {
    const messageId = packetId();
    c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false, messageId } as Packet);
    return messageId;
  });
  for (const id of ids) {
    const ack = (await c.next('puback')) as Packet & { messageId?: number; reasonCode?: number };
    if (ack.messageId !== id || (ack.reasonCode ?? 0) >= 0x80) throw new Error(`PUBACK ${JSON.stringify(ack)} for ${id}`);
  }
}
