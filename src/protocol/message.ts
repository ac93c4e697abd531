// The broker's in-memory form of an application message, independent of who published it and who receives it:
// shared by the broker and the queue engine, so it lives with the protocol types that everything may use.

import type { IPublishPacket, QoS } from 'mqtt-packet';

/** MQTT 5 PUBLISH properties that travel with a message unchanged (section 3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: MessageProperties | undefined;
  /** Absolute time (ms since epoch) after which the message must not be delivered; 0 = never. */
  expiresAt: number;
  /** Client identifier of the publisher ('' for the broker itself), for No Local. */
  origin: string;
  /** `properties` encoded for MQTT 5 once, on first delivery, and shared by every subscriber. */
  encodedProperties?: Buffer;
}

/** Builds a Message from a received PUBLISH; drops per-hop properties (topic alias, subscription ids). */
export function messageFromPublish(packet: IPublishPacket, topic: string, origin: string, now: number): Message {
  const props = packet.properties;
  let properties: MessageProperties | undefined;
  let expiresAt = 0;
  if (props) {
    if (props.messageExpiryInterval !== undefined) expiresAt = now + props.messageExpiryInterval * 1000;
    // Keep only what travels end to end; topic alias and subscription identifiers are per hop.
    const { topicAlias, messageExpiryInterval, subscriptionIdentifier, ...rest } = props;
    for (const _ in rest) {
      properties = rest;
      break;
    }
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  return { topic, payload, qos: packet.qos, retain: packet.retain, properties, expiresAt, origin };
}

/** Seconds left before expiry, rounded up, for the forwarded Message Expiry Interval [MQTT-3.3.2-6]; 0 if expired. */
export function remainingExpirySeconds(msg: Message, now: number): number {
  if (msg.expiresAt === 0) return -1;
  const left = msg.expiresAt - now;
  return left <= 0 ? 0 : Math.ceil(left / 1000);
}

export function isExpired(msg: Message, now: number): boolean {
  return msg.expiresAt !== 0 && msg.expiresAt <= now;
}
