// `subscribe:` rules: what the upstream sends down is published locally through the broker's normal path, so local
// queues (a device's command last-value queue) capture it durably; the upstream's PUBACK/PUBREC leaves only once
// that is on disk. Loops: MQTT 5 upstreams get No Local subscriptions, and a message carrying this bridge's own hop
// marker is dropped; for 3.1.1 upstreams (no properties) a message equal to one forwarded moments ago is the echo.

import { createHash } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Broker } from '../broker/broker.js';
import type { BridgeConfig } from '../config/bridges.js';
import type { Logger } from '../log/logger.js';
import type { Message, MessageProperties } from '../protocol/message.js';
import { isValidTopicName } from '../protocol/topic.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { publishLocally } from '../broker/local-publisher.js';
import { localTopicOf } from './topic-map.js';
import { SessionAcl } from '../auth/session-acl.js';
import { LogRateLimit } from '../log/rate-limit.js';

/** User property naming the bridges a message went through upward (MQTT 5 upstreams). */
export const HOP_PROPERTY = 'wharf-bridge-hop';
/** How long a forwarded message's fingerprint is remembered as a possible echo (3.1.1 upstreams). */
const ECHO_WINDOW_MS = 60_000;
const ECHO_MAX = 10_000;

export interface DownlinkCounters {
  received: number;
  published: number;
  refused: number;
  loopsDropped: number;
  /** Not published: `localUsername` may not write the local topic (acknowledged upstream, never retried). */
  denied: number;
}

export class Downlink {
  readonly counters: DownlinkCounters = { received: 0, published: 0, refused: 0, loopsDropped: 0, denied: 0 };
  /** The rules of `localUsername` (%c: the bridge's name); made on first use, swapped when the ACL is reloaded. */
  private acl: SessionAcl | null = null;
  private readonly deniedLog = new LogRateLimit(60_000);
  /** 3.1.1 echo detection: fingerprints of recently forwarded messages -> when. */
  private readonly forwarded = new Map<string, number>();

  constructor(
    private readonly broker: Broker,
    private readonly config: BridgeConfig,
    private readonly log: Logger,
    /** The origin of messages published locally by this bridge: its forward consumers skip them (no loop upward). */
    readonly origin: string,
    /** The link cannot keep a promise (a local store failure): tear it down, the upstream resends. */
    private readonly fail: (reason: string) => void,
  ) {}

  /** After CONNACK: one SUBSCRIBE for all rules (No Local on MQTT 5). */
  subscribe(client: MqttClient): void {
    const rules = this.config.subscribe;
    if (rules.length === 0) return;
    const v5 = this.config.protocolVersion === 5;
    const map: Record<string, { qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }> = {};
    // Subscription options exist from MQTT 5 on (section 3.8.3.1); a 3.1.1 SUBSCRIBE carries the QoS alone.
    // On 3.1.1 a QoS 2 PUBREC would leave before the local write (MQTT.js answers it itself): QoS 1 at most there.
    for (const r of rules) map[r.filter] = v5 ? { qos: r.qos, nl: true, rap: true, rh: 0 } : { qos: Math.min(r.qos, 1) as 0 | 1 };
    client.subscribe(map, (err, granted) => {
      this.log.debug('bridge subscribed', { bridge: this.config.name, granted: JSON.stringify(granted) });
      if (err) this.log.warn('bridge subscribe failed', { bridge: this.config.name, error: err.message });
    });
    if (v5) {
      // QoS 0 messages are not acknowledged and do not pass the ack handler.
      client.on('message', (_topic, _payload, packet) => {
        if (packet.qos === 0) this.take(packet, () => undefined);
      });
      return;
    }
    // MQTT.js calls customHandleAcks on MQTT 5 connections only; on 3.1.1 the PUBACK follows handleMessage's callback.
    client.handleMessage = (packet, callback) => this.take(packet, () => callback());
  }

  /** A forwarded message, remembered for echo detection on 3.1.1 upstreams. */
  noteForwarded(remoteTopic: string, payload: Buffer): void {
    if (this.config.protocolVersion === 5 || this.config.subscribe.length === 0) return;
    const now = Date.now();
    if (this.forwarded.size >= ECHO_MAX) {
      for (const [k, at] of this.forwarded) {
        if (this.forwarded.size < ECHO_MAX && at > now - ECHO_WINDOW_MS) break;
        this.forwarded.delete(k);
      }
    }
    this.forwarded.set(fingerprint(remoteTopic, payload), now);
  }

  /** MQTT.js customHandleAcks: `done(reasonCode)` sends the PUBACK/PUBREC. */
  readonly handleAck = (topic: string, payload: Buffer, packet: IPublishPacket, done: (error: Error | number, code?: number) => void): void => {
    this.take(packet, (code) => done(code));
  };

  private take(packet: IPublishPacket, done: (code: number) => void): void {
    this.counters.received++;
    const topic = packet.topic.toString();
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (this.isEcho(topic, payload, packet)) {
      this.counters.loopsDropped++;
      done(ReasonCode.Success);
      return;
    }
    const mapped = localTopicOf(this.config.subscribe, topic);
    if (mapped === undefined || !isValidTopicName(mapped.topic)) {
      done(ReasonCode.Success);
      return;
    }
    if (!this.mayWrite(mapped.topic)) {
      // Acknowledged (0x87 on MQTT 5), so the upstream does not send it again and again; counted and logged.
      this.counters.denied++;
      const suppressed = this.deniedLog.take(this.config.name);
      if (suppressed !== undefined) this.log.warn('bridge message not authorized locally', { bridge: this.config.name, localUsername: this.config.localUsername, topic: mapped.topic, suppressedSinceLast: suppressed });
      done(this.config.protocolVersion === 5 ? ReasonCode.NotAuthorized : ReasonCode.Success);
      return;
    }
    const msg = toMessage(packet, mapped.topic, payload, this.origin);
    const result = publishLocally(this.broker, msg);
    if ('refused' in result) {
      // MQTT 5 hears why (the upstream then drops it); 3.1.1 cannot be told: acknowledged, counted as refused.
      this.counters.refused++;
      this.log.warn('bridge message refused locally', { bridge: this.config.name, topic: mapped.topic, reason: result.refused.reason });
      done(this.config.protocolVersion === 5 ? result.refused.reasonCode : ReasonCode.Success);
      return;
    }
    if (result.durable === undefined) {
      this.counters.published++;
      done(ReasonCode.Success);
      return;
    }
    result.durable.then(
      () => {
        this.counters.published++;
        done(ReasonCode.Success);
      },
      (err) => this.fail(`local store write failed: ${(err as Error).message}`),
    );
  }

  /** The ACL as a principal: `localUsername`'s write right on the local topic; true when unset or without auth.aclFile. */
  private mayWrite(topic: string): boolean {
    const user = this.config.localUsername;
    if (user === undefined) return true;
    const file = this.broker.auth.aclFile;
    if (file === null) return true;
    if (this.acl === null) this.acl = new SessionAcl(file, user, this.config.name);
    else this.acl.reload(file);
    return this.acl.canWrite(topic);
  }

  private isEcho(topic: string, payload: Buffer, packet: IPublishPacket): boolean {
    const hops = packet.properties?.userProperties?.[HOP_PROPERTY];
    if (hops !== undefined) return (Array.isArray(hops) ? hops : [hops]).includes(this.config.clientId);
    if (this.forwarded.size === 0) return false;
    const key = fingerprint(topic, payload);
    const at = this.forwarded.get(key);
    if (at === undefined || at < Date.now() - ECHO_WINDOW_MS) return false;
    this.forwarded.delete(key);
    return true;
  }
}

function fingerprint(topic: string, payload: Buffer): string {
  return createHash('sha1').update(topic).update('\u0000').update(payload).digest('base64');
}

/** The local form of a message from upstream: end-to-end properties kept, per-hop ones dropped. */
function toMessage(packet: IPublishPacket, topic: string, payload: Buffer, origin: string): Message {
  const p = packet.properties;
  let properties: MessageProperties | undefined;
  let expiresAt = 0;
  if (p !== undefined) {
    if (p.messageExpiryInterval !== undefined) expiresAt = Date.now() + p.messageExpiryInterval * 1000;
    const kept: MessageProperties = {};
    if (p.payloadFormatIndicator !== undefined) kept.payloadFormatIndicator = p.payloadFormatIndicator;
    if (p.contentType !== undefined) kept.contentType = p.contentType;
    if (p.responseTopic !== undefined) kept.responseTopic = p.responseTopic;
    if (p.correlationData !== undefined) kept.correlationData = p.correlationData;
    if (p.userProperties !== undefined) kept.userProperties = p.userProperties as Record<string, string | string[]>;
    if (Object.keys(kept).length > 0) properties = kept;
  }
  return { topic, payload, qos: packet.qos, retain: packet.retain, properties, expiresAt, origin };
}
