// PUBLISH from a client (MQTT 5.0 section 3.3): topic alias resolution, validation, QoS 1/2 acknowledgement
// and the incoming Receive Maximum.

import type { IPublishPacket } from 'mqtt-packet';
import { isValidTopicName } from '../../protocol/topic.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { messageFromPublish } from '../message.js';

export function handlePublish(conn: Connection, packet: IPublishPacket): void {
  const broker = conn.broker;
  const topic = resolveTopic(conn, packet);
  if (!isValidTopicName(topic)) throw new ProtocolViolation(ReasonCode.TopicNameInvalid, `invalid topic name "${topic}"`);
  const qos = packet.qos;
  broker.stats.messagesIn++;
  broker.stats.bytesIn += packet.payload.length;
  const now = Date.now();

  if (qos === 0) {
    broker.publish(messageFromPublish(packet, topic, conn.clientId, now));
    return;
  }

  const packetId = packet.messageId!;
  const session = conn.session!;
  if (qos === 2 && session.incomingQos2.has(packetId)) {
    // A resent QoS 2 PUBLISH whose PUBREL has not arrived: acknowledge again, deliver nothing [MQTT-4.3.3-10].
    conn.write({ cmd: 'pubrec', messageId: packetId });
    return;
  }
  // The client must not exceed our Receive Maximum [MQTT-3.3.4-7]; 0x93 tells it so.
  if (conn.incomingInflight + session.incomingQos2.size >= broker.config.mqtt.receiveMaximum) {
    throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'Receive Maximum exceeded');
  }
  conn.incomingInflight++;
  const matched = broker.publish(messageFromPublish(packet, topic, conn.clientId, now));
  conn.incomingInflight--;
  if (conn.closed) return;
  const reasonCode = matched === 0 && conn.protocolVersion === 5 ? ReasonCode.NoMatchingSubscribers : ReasonCode.Success;
  if (qos === 1) {
    conn.write({ cmd: 'puback', messageId: packetId, reasonCode });
  } else {
    session.incomingQos2.add(packetId);
    conn.write({ cmd: 'pubrec', messageId: packetId, reasonCode });
  }
}

/** Topic aliases (5.0 section 3.3.2.3.4): set a mapping, or use one the client set before on this connection. */
function resolveTopic(conn: Connection, packet: IPublishPacket): string {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) {
    if (packet.topic.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'empty topic without topic alias');
    return packet.topic;
  }
  // 0 or above our Topic Alias Maximum is invalid [MQTT-3.3.2-8] [MQTT-3.3.2-9].
  if (alias === 0 || alias > conn.broker.config.mqtt.topicAliasMaximum) {
    throw new ProtocolViolation(ReasonCode.TopicAliasInvalid, `topic alias ${alias} out of range`);
  }
  if (packet.topic.length > 0) {
    conn.aliasesIn.set(alias, packet.topic);
    return packet.topic;
  }
  const topic = conn.aliasesIn.get(alias);
  if (topic === undefined) throw new ProtocolViolation(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
  return topic;
}
