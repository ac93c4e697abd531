// One upstream bridge: its outbox queues and their consumers, the upstream link, the shared publish window (the
// bridge's `inflight` and the upstream's Receive Maximum), priority lanes, catch-up pace, stall detection and the
// subscribe rules' downlink. A queue message leaves the outbox only when the upstream acknowledged it.

import mqttPacket from 'mqtt-packet';
import type { IClientPublishOptions, IConnackPacket, MqttClient } from 'mqtt';
import type { Broker } from '../broker/broker.js';
import type { BridgeConfig } from '../config/bridges.js';
import type { Logger } from '../log/logger.js';
import { remainingExpirySeconds } from '../protocol/message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { QueueEngine } from '../queue/engine.js';
import type { HeldMessage, Queue } from '../queue/queue.js';
import { Downlink, HOP_PROPERTY } from './downlink.js';
import { ForwardConsumer, type ForwardSender } from './forward-consumer.js';
import { CatchUpPacer, LaneArbiter, PRIORITY_RANK } from './lanes.js';
import { newBridgeCounters, type BridgeCounters } from './counters.js';
import { BridgeHealth } from './health.js';
import { remoteTopicOf } from './topic-map.js';
import { UpstreamLink } from './upstream-link.js';

interface InFlight {
  consumer: ForwardConsumer;
  held: HeldMessage;
}

/** Upstream refusals worth trying again later; any other reason code of 0x80 or more dead-letters the message. */
const TRANSIENT_REFUSALS = new Set<number>([ReasonCode.UnspecifiedError, ReasonCode.QuotaExceeded]);

export class Bridge implements ForwardSender {
  readonly counters: BridgeCounters = newBridgeCounters();
  readonly consumers: ForwardConsumer[] = [];
  readonly link: UpstreamLink;
  readonly downlink: Downlink;
  readonly health: BridgeHealth;
  private readonly lanes = new LaneArbiter();
  private readonly pacer: CatchUpPacer;
  private readonly pending = new Map<number, InFlight>();
  private client: MqttClient | null = null;
  /** Incremented on every link change: an acknowledgement of an older connection is stale. */
  private generation = 0;
  private keys = 0;
  private window = 0;
  private catchingUp = false;
  private paceTimer: NodeJS.Timeout | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  /** Acknowledgements per second, smoothed (for the estimated catch-up time). */
  ackRate = 0;
  private rateSampledAt = Date.now();
  private rateSampledAcks = 0;
  /** Origin of messages this bridge published locally (from upstream): never forwarded back up. */
  readonly origin: string;

  constructor(
    readonly config: BridgeConfig,
    private readonly broker: Broker,
    private readonly engine: QueueEngine,
    queues: Queue[],
    private readonly log: Logger,
  ) {
    this.origin = `$bridge/${config.name}`;
    this.pacer = new CatchUpPacer(config.outbox.catchUpRate);
    config.forward.forEach((rule, i) => {
      const queue = queues[i]!;
      this.lanes.add(queue, rule.priority);
      this.consumers.push(new ForwardConsumer(queue, this, config.name, rule, PRIORITY_RANK[rule.priority], this));
    });
    this.downlink = new Downlink(broker, config, log, this.origin, (reason) => this.link.teardown(reason));
    this.health = new BridgeHealth(config, () => this.outboxDepth() > 0 || this.pending.size > 0, (status) => this.publishStatus(status));
    this.link = new UpstreamLink(
      config,
      log,
      { up: (client, connack) => this.linkUp(client, connack), down: (reason, wasUp) => this.linkDown(reason, wasUp), heard: () => this.health.heard(Date.now()) },
      this.downlink.handleAck,
    );
  }

  get name(): string {
    return this.config.name;
  }

  get inflight(): number {
    return this.pending.size;
  }

  get queues(): Queue[] {
    return this.consumers.map((c) => c.queue);
  }

  outboxDepth(): number {
    let n = 0;
    for (const c of this.consumers) n += c.queue.depth;
    return n;
  }

  start(): void {
    for (const c of this.consumers) this.engine.addConsumer(c);
    this.health.start();
    this.link.start();
    const every = Math.max(50, Math.min(1000, Math.floor(this.config.stallTimeoutMs / 4)));
    this.stallTimer = setInterval(() => this.checkStall(), every);
    this.stallTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.stallTimer) clearInterval(this.stallTimer);
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.health.stop();
    await this.link.stop();
    this.engine.ownerDetached(this);
  }

  // ForwardSender ---------------------------------------------------------------------------------------------

  nextKey(): number {
    return ++this.keys;
  }

  hasRoom(consumer: ForwardConsumer): boolean {
    if (this.client === null || this.pending.size >= this.window) return false;
    if (!this.lanes.mayTake(consumer.rank)) return false;
    if (this.catchingUp && this.pacer.enabled && !this.pacer.allows(Date.now())) {
      this.paceLater();
      return false;
    }
    return true;
  }

  send(consumer: ForwardConsumer, key: number, held: HeldMessage): void {
    const msg = held.message;
    const rule = consumer.rule;
    // Came down from the upstream through this bridge: forwarding it would loop.
    if (msg.origin === this.origin) {
      this.counters.loopsSkipped++;
      if (consumer.qos === 1) consumer.verdict(key, true);
      return;
    }
    const client = this.client!;
    const topic = remoteTopicOf(rule, msg.topic);
    const options: IClientPublishOptions = { qos: rule.qos, retain: rule.retain, dup: held.deliveryCount > 0 && rule.qos > 0 };
    if (this.config.protocolVersion === 5) options.properties = this.properties(held);
    const limit = this.link.maximumPacketSize;
    if (limit > 0) {
      const size = packetSize(topic, msg.payload, options, this.config.protocolVersion);
      if (size > limit) {
        this.deadLetter(consumer, key, held, `packet of ${size} bytes exceeds the upstream's Maximum Packet Size of ${limit}`);
        return;
      }
    }
    if (this.catchingUp && this.pacer.enabled) this.pacer.take();
    this.counters.forwarded++;
    if (options.dup) this.counters.resent++;
    this.downlink.noteForwarded(topic, msg.payload);
    if (rule.qos === 0) {
      client.publish(topic, msg.payload, options);
      return;
    }
    if (this.pending.size === 0) this.health.progress(Date.now());
    this.pending.set(key, { consumer, held });
    const generation = this.generation;
    client.publish(topic, msg.payload, options, (err) => this.acknowledged(generation, key, err ?? undefined));
  }

  // Acknowledgements -------------------------------------------------------------------------------------------

  private acknowledged(generation: number, key: number, err: Error | undefined): void {
    if (generation !== this.generation) return; // that connection is gone; its messages were released
    const inflight = this.pending.get(key);
    if (inflight === undefined) return;
    const code = (err as { code?: unknown } | undefined)?.code;
    if (err !== undefined && typeof code !== 'number') return; // connection closed: the link-down release handles it
    this.pending.delete(key);
    const now = Date.now();
    this.health.acknowledged(now);
    this.counters.lastAckAt = now;
    if (err === undefined) {
      this.counters.acknowledged++;
      inflight.consumer.verdict(key, true);
    } else if (TRANSIENT_REFUSALS.has(code as number)) {
      this.counters.refusedUpstream++;
      inflight.consumer.verdict(key, false); // back to its queue, tried again after the redelivery delay
    } else {
      this.counters.refusedUpstream++;
      this.deadLetter(inflight.consumer, key, inflight.held, `upstream answered 0x${(code as number).toString(16)} (${err.message})`);
    }
    this.roomAgain();
  }

  /** Out of the outbox into the bridge's dead-letter queue, with the reason; never retried. */
  private deadLetter(consumer: ForwardConsumer, key: number, held: HeldMessage, reason: string): void {
    this.counters.deadLettered++;
    this.log.warn('bridge message dead-lettered', { bridge: this.name, topic: held.message.topic, reason });
    const msg = held.message;
    const userProperties = { ...(msg.properties?.userProperties ?? {}), 'wharf-bridge-reason': reason };
    this.engine.deadLetter(consumer.queue, { ...held, message: { ...msg, properties: { ...msg.properties, userProperties } } }, 'rejected');
    if (consumer.qos === 1) consumer.verdict(key, true);
  }

  private properties(held: HeldMessage): IClientPublishOptions['properties'] {
    const p = held.message.properties;
    const hops = p?.userProperties?.[HOP_PROPERTY];
    const userProperties = { ...(p?.userProperties ?? {}), [HOP_PROPERTY]: hops === undefined ? this.config.clientId : [...(Array.isArray(hops) ? hops : [hops]), this.config.clientId] };
    const out: NonNullable<IClientPublishOptions['properties']> = { userProperties };
    if (p?.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
    if (p?.contentType !== undefined) out.contentType = p.contentType;
    if (p?.responseTopic !== undefined) out.responseTopic = p.responseTopic;
    if (p?.correlationData !== undefined) out.correlationData = p.correlationData;
    const expiry = remainingExpirySeconds(held.message, Date.now());
    if (expiry > 0) out.messageExpiryInterval = expiry;
    return out;
  }

  // Link life cycle -------------------------------------------------------------------------------------------

  private linkUp(client: MqttClient, _connack: IConnackPacket): void {
    this.generation++;
    this.client = client;
    this.window = Math.min(this.config.outbox.inflight, this.link.receiveMaximum);
    this.catchingUp = this.outboxDepth() > 0;
    this.pacer.restart(Date.now());
    this.health.connected(Date.now());
    this.downlink.subscribe(client);
    this.roomAgain();
  }

  private linkDown(reason: string, wasUp: boolean): void {
    this.generation++;
    this.client = null;
    this.pending.clear();
    if (wasUp) this.counters.disconnects++;
    // Unacknowledged messages go back to their queues in order; they are resent (DUP) on the next connection.
    for (const c of this.consumers) c.release();
    this.health.disconnected(reason);
  }

  private roomAgain(): void {
    if (this.catchingUp && this.outboxDepth() === 0) this.catchingUp = false;
    this.engine.ownerHasRoom(this);
  }

  private paceLater(): void {
    if (this.paceTimer !== null) return;
    this.paceTimer = setTimeout(() => {
      this.paceTimer = null;
      this.roomAgain();
    }, this.pacer.waitMs());
    this.paceTimer.unref();
  }

  private checkStall(): void {
    const now = Date.now();
    this.health.tick(now);
    this.sampleAckRate(now);
    if (this.client === null || this.pending.size === 0 || this.config.stallTimeoutMs === 0) return;
    if (now - this.health.lastProgressAt > this.config.stallTimeoutMs) {
      this.counters.stalls++;
      this.link.teardown(`stalled: ${this.pending.size} in flight, nothing acknowledged for ${this.config.stallTimeoutMs} ms`);
    }
  }

  private sampleAckRate(now: number): void {
    const dt = now - this.rateSampledAt;
    if (dt < 1000) return;
    const perSecond = ((this.counters.acknowledged - this.rateSampledAcks) * 1000) / dt;
    this.ackRate = this.ackRate === 0 ? perSecond : 0.7 * this.ackRate + 0.3 * perSecond;
    this.rateSampledAt = now;
    this.rateSampledAcks = this.counters.acknowledged;
  }

  private publishStatus(status: string): void {
    const payload = Buffer.from(JSON.stringify({ bridge: this.name, state: status, url: this.link.url, at: new Date().toISOString() }));
    for (const topic of [`$SYS/wharf/bridges/${this.name}`, this.config.statusTopic]) {
      this.broker.publish({ topic, payload, qos: 0, retain: true, properties: undefined, expiresAt: 0, origin: '' });
    }
  }
}

/** The encoded size of the PUBLISH (for the upstream's Maximum Packet Size, MQTT 5.0 section 3.2.2.3.6). */
function packetSize(topic: string, payload: Buffer, options: IClientPublishOptions, protocolVersion: 4 | 5): number {
  const packet = { cmd: 'publish' as const, topic, payload, qos: options.qos ?? 0, retain: false, dup: false, messageId: 1, properties: options.properties };
  return mqttPacket.generate(packet, { protocolVersion }).length;
}
