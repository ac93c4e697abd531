// Helpers for PUBLISH-flow tests (test/broker/03-publish): one broker per test whose clients are always closed
// when the test ends, raw SUBSCRIBE/PUBLISH short-hands, a PINGREQ round trip that proves the broker has
// processed everything sent before it, and a shifted wall clock for message-expiry tests.

import type { IClientOptions, MqttClient } from 'mqtt';
import type { IConnectPacket, IPublishPacket, ISubackPacket, ISubscription, Packet } from 'mqtt-packet';
import type { Connection } from '../../src/broker/connection.js';
import type { Session } from '../../src/broker/session.js';
import type { MqttLimits, WharfConfig } from '../../src/config/types.js';
import { startBroker, type TestBroker } from './broker.js';
import { connectClient, endClient } from './mqttjs.js';
import { RawClient } from './raw-client.js';

export class PubKit {
  private readonly raws: RawClient[] = [];
  private readonly clients: MqttClient[] = [];

  private constructor(readonly tb: TestBroker) {}

  get broker() {
    return this.tb.broker;
  }

  /** A raw client after a successful CONNECT/CONNACK; returns it with its CONNACK. */
  async raw(connect: Partial<IConnectPacket> = {}, version: 4 | 5 = 5): Promise<{ client: RawClient; connack: Packet & Record<string, any> }> {
    const { client, connack } = await RawClient.connected(this.tb.port, connect, version);
    this.raws.push(client);
    const code = version === 5 ? connack.reasonCode : connack.returnCode;
    if (code !== 0) throw new Error(`CONNACK refused: ${code}`);
    return { client, connack: connack as Packet & Record<string, any> };
  }

  /** A raw client connected and subscribed to `subs` (SUBACK checked to grant what was asked). */
  async rawSub(subs: ISubscription[], opts: { version?: 4 | 5; connect?: Partial<IConnectPacket>; subscriptionIdentifier?: number } = {}): Promise<RawClient> {
    const { client } = await this.raw(opts.connect ?? {}, opts.version ?? 5);
    await subscribe(client, subs, opts.subscriptionIdentifier);
    return client;
  }

  /** An MQTT.js client (protocolVersion 5 unless given), ended when the test ends. */
  async mqttjs(opts: IClientOptions = {}): Promise<MqttClient> {
    const c = await connectClient(this.tb.url, opts);
    this.clients.push(c);
    return c;
  }

  session(clientId: string): Session {
    const s = this.broker.sessions.byClientId.get(clientId);
    if (s === undefined) throw new Error(`no session for ${clientId}`);
    return s;
  }

  /** The broker side of the live connection of `clientId`. */
  connection(clientId: string): Connection {
    for (const c of this.broker.connections) if (c.clientId === clientId && !c.closed) return c;
    throw new Error(`no connection for ${clientId}`);
  }

  async close(): Promise<void> {
    for (const r of this.raws) r.end();
    await Promise.all(this.clients.map((c) => endClient(c, true)));
    await Promise.all(this.raws.map((r) => r.closed));
    await this.tb.stop();
  }

  /** Runs `fn` with a fresh broker (optional limits), always closing clients and broker afterwards. */
  static async run(limits: Partial<MqttLimits>, fn: (k: PubKit) => Promise<void>, tweak?: (c: WharfConfig) => void): Promise<void> {
    const kit = new PubKit(await startBroker(limits, tweak));
    try {
      await fn(kit);
    } finally {
      await kit.close();
    }
  }
}

/** SUBSCRIBE with packet id 1 (and a subscription identifier on 5.0); fails unless every filter is granted its QoS. */
export async function subscribe(client: RawClient, subs: ISubscription[], subscriptionIdentifier?: number, messageId = 1): Promise<void> {
  const packet: Packet & Record<string, unknown> = { cmd: 'subscribe', messageId, subscriptions: subs };
  if (subscriptionIdentifier !== undefined) packet.properties = { subscriptionIdentifier };
  client.send(packet as Packet);
  const suback = (await client.next('suback')) as ISubackPacket;
  const granted = suback.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos));
  const wanted = subs.map((s) => s.qos);
  if (JSON.stringify(granted) !== JSON.stringify(wanted)) throw new Error(`SUBACK granted ${JSON.stringify(granted)}, wanted ${JSON.stringify(wanted)}`);
}

/** PINGREQ/PINGRESP: packets are handled in order, so once PINGRESP is back everything sent before it was processed. */
export async function sync(client: RawClient): Promise<void> {
  client.send({ cmd: 'pingreq' });
  await client.next('pingresp');
}

/** A PUBLISH packet with the usual defaults filled in. */
export function publishPacket(topic: string, payload: string | Buffer, fields: Partial<IPublishPacket> = {}): IPublishPacket {
  return { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: 0, retain: false, dup: false, ...fields };
}

/** Receives the next packet, which must be a PUBLISH. */
export async function nextPublish(client: RawClient, timeoutMs?: number): Promise<IPublishPacket> {
  return (await client.next('publish', timeoutMs)) as IPublishPacket;
}

/**
 * Moves the wall clock (Date.now) forward by `ms` until the returned function is called. The broker stores
 * message expiry as absolute Date.now() times, so this stands in for waiting without slowing the test down.
 */
export function advanceClock(ms: number): () => void {
  const real = Date.now;
  Date.now = () => real() + ms;
  return () => {
    Date.now = real;
  };
}
