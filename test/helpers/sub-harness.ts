// Helpers for subscription, retained and shared-subscription tests: a broker per test whose clients are
// always cleaned up, and short-hands for raw SUBSCRIBE / UNSUBSCRIBE / PUBLISH exchanges.

import type { IClientOptions, MqttClient } from 'mqtt';
import type { IPublishPacket, ISubackPacket, ISubscription, IUnsubackPacket, Packet } from 'mqtt-packet';
import type { MqttLimits, WharfConfig } from '../../src/config/types.js';
import { startBroker, type TestBroker } from './broker.js';
import { connectClient, endClient } from './mqttjs.js';
import { RawClient } from './raw-client.js';

/** A test's broker plus everything connected to it, closed when the test ends. */
export class Harness {
  private readonly raws: RawClient[] = [];
  private readonly clients: MqttClient[] = [];

  constructor(readonly tb: TestBroker) {}

  get broker() {
    return this.tb.broker;
  }

  /** A raw client after CONNECT/CONNACK (clean start, the given fields and protocol version). */
  async raw(connect: Record<string, unknown> = {}, version: 4 | 5 = 5): Promise<RawClient> {
    return (await this.rawConnack(connect, version)).client;
  }

  /** Like `raw`, also returning the CONNACK (e.g. for Session Present). */
  async rawConnack(connect: Record<string, unknown> = {}, version: 4 | 5 = 5) {
    const { client, connack } = await RawClient.connected(this.tb.port, connect, version);
    this.raws.push(client);
    const code = version === 5 ? connack.reasonCode : connack.returnCode;
    if (code !== 0) throw new Error(`CONNACK refused: ${code}`);
    return { client, connack };
  }

  /** An MQTT.js client (protocol 5 unless `opts.protocolVersion` says otherwise). */
  async mqtt(opts: IClientOptions = {}): Promise<MqttClient> {
    const c = await connectClient(this.tb.url, opts);
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const r of this.raws) r.end();
    await Promise.all(this.clients.map((c) => endClient(c, true)));
  }
}

export async function withBroker(fn: (h: Harness) => Promise<void>, limits: Partial<MqttLimits> = {}, tweak?: (c: WharfConfig) => void): Promise<void> {
  const tb = await startBroker(limits, tweak);
  const h = new Harness(tb);
  try {
    await fn(h);
  } finally {
    await h.close();
    await tb.stop();
  }
}

let nextMessageId = 1;
function messageId(): number {
  nextMessageId = nextMessageId >= 65000 ? 1 : nextMessageId + 1;
  return nextMessageId;
}

/** Sends SUBSCRIBE and returns its SUBACK, checking the packet identifier matches [MQTT-3.8.4-2]. */
export async function subscribe(c: RawClient, subscriptions: ISubscription[], properties?: Record<string, unknown>): Promise<ISubackPacket> {
  const id = messageId();
  c.send({ cmd: 'subscribe', messageId: id, subscriptions, properties } as Packet);
  const suback = (await c.next('suback')) as ISubackPacket;
  if (suback.messageId !== id) throw new Error(`SUBACK for ${suback.messageId}, expected ${id}`);
  return suback;
}

/** Sends UNSUBSCRIBE and returns its UNSUBACK (5.0 reason codes are in `granted`, as mqtt-packet parses them). */
export async function unsubscribe(c: RawClient, filters: string[]): Promise<IUnsubackPacket & { granted?: number[] }> {
  const id = messageId();
  c.send({ cmd: 'unsubscribe', messageId: id, unsubscriptions: filters } as Packet);
  const unsuback = (await c.next('unsuback')) as IUnsubackPacket & { granted?: number[] };
  if (unsuback.messageId !== id) throw new Error(`UNSUBACK for ${unsuback.messageId}, expected ${id}`);
  return unsuback;
}

/**
 * Publishes and, for QoS 1, waits for the PUBACK, so the broker has routed the message when this returns.
 * QoS 0 publishes are followed by a PINGREQ round trip for the same reason. With `noWait` (a publisher that also
 * receives the message) it returns at once and the caller reads the acknowledgement.
 */
export async function publish(
  c: RawClient,
  topic: string,
  payload: string,
  opts: { qos?: 0 | 1; retain?: boolean; properties?: Record<string, unknown>; noWait?: boolean } = {},
): Promise<void> {
  const qos = opts.qos ?? 0;
  const id = qos > 0 ? messageId() : undefined;
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: opts.retain ?? false, dup: false, messageId: id, properties: opts.properties } as Packet);
  if (opts.noWait) return;
  if (qos === 1) {
    const ack = await c.next('puback');
    if (ack.messageId !== id) throw new Error(`PUBACK for ${ack.messageId}, expected ${id}`);
  } else {
    c.send({ cmd: 'pingreq' });
    await c.next('pingresp');
  }
}

/** The next PUBLISH received, with its payload as a string for easy comparison. */
export async function nextPublish(c: RawClient, timeoutMs = 2000): Promise<IPublishPacket & { text: string }> {
  const p = (await c.next('publish', timeoutMs)) as IPublishPacket;
  return Object.assign(p, { text: p.payload.toString() });
}

/** Resolves when `client` (MQTT.js) receives a message on `topic`; rejects after `timeoutMs`. */
export function receivedOn(client: MqttClient, topic: string, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (t: string) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('message', onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    client.on('message', onMessage);
  });
}
