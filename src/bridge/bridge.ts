// One upstream bridge: its outbox queues and their consumers, the upstream link, the shared publish window (the
// bridge's `inflight` and the upstream's Receive Maximum), priority lanes, catch-up pace, stall detection and the
// subscribe rules' downlink. A queue message leaves the outbox only when the upstream acknowledged it.

import type { IConnackPacket, MqttClient, Packet } from 'mqtt';
import type { Broker } from '../broker/broker.js';
import type { BridgeConfig } from '../config/bridges.js';
import type { Logger } from '../log/logger.js';
import { remainingExpirySeconds } from '../protocol/message.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import type { QueueEngine } from '../queue/engine.js';
import type { HeldMessage, Queue } from '../queue/queue.js';
import { BurstWriter, OutboxPacketIds } from './outbox-writer.js';
import { encodeProperties, frameBytes, publishFrame, pubrel } from './publish-encoder.js';
import { Downlink, HOP_PROPERTY } from './downlink.js';
import { ForwardConsumer, type ForwardSender } from './forward-consumer.js';
import { CatchUpPacer, LaneArbiter, PRIORITY_RANK } from './lanes.js';
import { newBridgeCounters, type BridgeCounters } from './counters.js';
import { BridgeHealth } from './health.js';
import { remoteTopicOf } from './topic-map.js';
import { UpstreamLink } from './upstream-link.js';

interface InFlight {
  consumer: ForwardConsumer;
  /** The consumer's delivery key. */
  key: number;
  held: HeldMessage;
  qos: 1 | 2;
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
  /** In flight on the current connection, by packet identifier. */
  private readonly pending = new Map<number, InFlight>();
  /** Acknowledged by the upstream, settled with their consumers at the end of the turn (settleAcknowledged). */
  private settling: InFlight[] = [];
  private client: MqttClient | null = null;
  private writer: BurstWriter | null = null;
  private ids = new OutboxPacketIds();
  /** The MQTT 5 property block of a message without properties of its own: just this bridge's hop marker. */
  private readonly hopOnly: Buffer;
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
    this.hopOnly = encodeProperties({ message: undefined, expirySeconds: 0, hopName: HOP_PROPERTY, hops: [config.clientId] });
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
    const topic = remoteTopicOf(rule, msg.topic);
    const dup = held.deliveryCount > 0 && rule.qos > 0;
    const packetId = rule.qos === 0 ? 0 : this.ids.allocate();
    const frame = publishFrame(topic, msg.payload, rule.qos, rule.retain, dup, packetId, this.config.protocolVersion === 5 ? this.properties(held) : null);
    const limit = this.link.maximumPacketSize;
    if (limit > 0 && frameBytes(frame) > limit) {
      this.ids.release(packetId);
      this.deadLetter(consumer, key, held, `packet of ${frameBytes(frame)} bytes exceeds the upstream's Maximum Packet Size of ${limit}`);
      return;
    }
    if (this.catchingUp && this.pacer.enabled) this.pacer.take();
    this.counters.forwarded++;
    if (dup) this.counters.resent++;
    this.downlink.noteForwarded(topic, msg.payload);
    this.writer!.publish(frame);
    if (rule.qos === 0) return;
    if (this.pending.size === 0) this.health.progress(Date.now());
    this.pending.set(packetId, { consumer, key, held, qos: rule.qos });
  }

  // Acknowledgements -------------------------------------------------------------------------------------------

  /**
   * PUBACK, PUBREC and PUBCOMP of the outbox's packet identifiers (MQTT.js ignores them: it has no such id in its
   * outgoing store). QoS 2: PUBREC is answered with PUBREL [MQTT-4.3.3-3] and the message leaves on PUBCOMP.
   */
  private onPacket(client: MqttClient, packet: Packet): void {
    const cmd = packet.cmd;
    if ((cmd !== 'puback' && cmd !== 'pubrec' && cmd !== 'pubcomp') || client !== this.client) return;
    const id = packet.messageId ?? 0;
    if (!OutboxPacketIds.owns(id)) return;
    const inflight = this.pending.get(id);
    if (inflight === undefined) return; // a duplicate acknowledgement
    const code = packet.reasonCode ?? 0;
    if (cmd === 'pubrec' && inflight.qos === 2 && code < 0x80) {
      this.health.progress(Date.now());
      this.writer!.raw(pubrel(id));
      this.writer!.poke();
      return;
    }
    if ((cmd === 'puback') !== (inflight.qos === 1) && !(cmd === 'pubrec' && code >= 0x80)) return; // not this exchange's answer
    this.pending.delete(id);
    this.ids.release(id);
    const now = Date.now();
    this.health.acknowledged(now);
    this.counters.lastAckAt = now;
    // 0x10 No matching subscribers is a success; a PUBCOMP's 0x92 (identifier not found) follows a PUBREC we had.
    if (code < 0x80 || cmd === 'pubcomp') {
      this.counters.acknowledged++;
      // MQTT.js hands over the packets of one socket read one per tick: settled all together after them, their
      // removals reach the store as one operation and the window refills once (not one message per PUBACK).
      if (this.settling.length === 0) setImmediate(this.settleAcknowledged);
      this.settling.push(inflight);
      return;
    } else if (TRANSIENT_REFUSALS.has(code)) {
      this.counters.refusedUpstream++;
      inflight.consumer.verdict(inflight.key, false); // back to its queue, tried again after the redelivery delay
    } else {
      this.counters.refusedUpstream++;
      this.deadLetter(inflight.consumer, inflight.key, inflight.held, `upstream answered 0x${code.toString(16)}`);
    }
    this.roomAgain();
    this.writer?.poke();
  }

  /** The upstream's acknowledgements since the last call leave the outbox; the window refills after them. */
  private readonly settleAcknowledged = (): void => {
    const settling = this.settling;
    if (settling.length === 0) return;
    this.settling = [];
    for (const inflight of settling) inflight.consumer.verdict(inflight.key, true);
    this.roomAgain();
    this.writer?.poke();
  };

  /**
   * Whether a burst should be written now: loopback and LAN writes cost a system call each, so while at least half
   * the window is still unacknowledged on the wire, new packets wait until they are half a window themselves or
   * the wire drains below half (acknowledgements keep arriving meanwhile, so nothing waits longer than a round trip).
   */
  private mayWrite(): boolean {
    const queued = this.writer?.queuedPackets ?? 0;
    const onWire = this.pending.size - queued;
    const half = this.window >> 1;
    return onWire < half || queued >= half;
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

  /** The MQTT 5 property block: end-to-end properties, the remaining expiry, and the hop marker with this bridge. */
  private properties(held: HeldMessage): Buffer {
    const msg = held.message;
    const p = msg.properties;
    const expiry = remainingExpirySeconds(msg, Date.now());
    if (p === undefined && expiry < 1) return this.hopOnly;
    const hops = p?.userProperties?.[HOP_PROPERTY];
    const earlier = hops === undefined ? [] : Array.isArray(hops) ? hops : [hops];
    return encodeProperties({ message: p, expirySeconds: expiry, hopName: HOP_PROPERTY, hops: [...earlier, this.config.clientId] });
  }

  // Link life cycle -------------------------------------------------------------------------------------------

  private linkUp(client: MqttClient, _connack: IConnackPacket): void {
    this.client = client;
    // The bridge makes its own bursts: Nagle's algorithm would only hold them for the previous segment's ACK.
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    this.writer = new BurstWriter(client.stream, () => this.mayWrite());
    this.ids = new OutboxPacketIds();
    client.on('packetreceive', (packet) => this.onPacket(client, packet));
    this.window = Math.min(this.config.outbox.inflight, this.link.receiveMaximum, OutboxPacketIds.capacity);
    this.catchingUp = this.outboxDepth() > 0;
    this.pacer.restart(Date.now());
    this.health.connected(Date.now());
    this.downlink.subscribe(client);
    this.roomAgain();
  }

  private linkDown(reason: string, wasUp: boolean): void {
    // Acknowledged before the break: they leave the outbox, not resent with what was still in flight.
    this.settleAcknowledged();
    this.client = null;
    this.writer?.close();
    this.writer = null;
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
