// PUBLISH from a client (MQTT 5.0 section 3.3): topic alias resolution, validation, QoS 1/2 acknowledgement
// and the incoming Receive Maximum.

import type { IPublishPacket } from 'mqtt-packet';
import { isValidTopicName } from '../../protocol/topic.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { messageFromPublish } from '../../protocol/message.js';
import { AckType } from '../../protocol/codec.js';
import { StoreFullError } from '../../store/errors.js';
import type { Refusal } from '../../queue/errors.js';
import type { PendingAck } from '../pending-ack.js';

export function handlePublish(conn: Connection, packet: IPublishPacket): void {
  const broker = conn.broker;
  const topic = resolveTopic(conn, packet);
  if (!isValidTopicName(topic)) throw new ProtocolViolation(ReasonCode.TopicNameInvalid, `invalid topic name "${topic}"`);
  const qos = packet.qos;
  // Authorization (auth.aclFile) before anything counts or is stored: a denied message reaches no subscriber,
  // no queue and no retained value. A cached decision per topic: one Map lookup (src/auth/session-acl.ts).
  const acl = conn.session!.acl;
  if (acl !== null && !acl.canWrite(topic)) return refuseUnauthorized(conn, topic, qos, packet.messageId);
  const stats = broker.stats;
  stats.messagesInByQos[qos]++;
  stats.bytesInByQos[qos] += packet.payload.length;
  const now = Date.now();

  const persistence = broker.persistence;
  if (qos === 0) {
    // QoS 0 into persistent sessions is not stored (it is never queued for them), retained QoS 0 may be lost
    // within the last window, as the durability contract allows: nobody hears of its writes.
    broker.publish(messageFromPublish(packet, topic, conn.clientId, now));
    throttleIfBehind(conn);
    return;
  }

  const packetId = packet.messageId!;
  const session = conn.session!;
  if (qos === 2 && session.incomingQos2.has(packetId)) {
    // A resent QoS 2 PUBLISH whose PUBREL has not arrived: acknowledge again, deliver nothing [MQTT-4.3.3-10].
    conn.acknowledge(undefined, () => conn.write({ cmd: 'pubrec', messageId: packetId }));
    return;
  }
  // The client must not exceed our Receive Maximum [MQTT-3.3.4-7]; 0x93 tells it so.
  if (conn.incomingInflight + session.incomingQos2.size >= broker.config.mqtt.receiveMaximum) {
    throw new ProtocolViolation(ReasonCode.ReceiveMaximumExceeded, 'Receive Maximum exceeded');
  }
  // QoS 1 counts until its PUBACK leaves; QoS 2 counts through incomingQos2 until PUBREL.
  if (qos === 1) conn.incomingInflight++;
  // The acknowledgement says "stored": every write this message causes reports to it, and it leaves only once
  // all of them are on disk (and every acknowledgement before it has left).
  const ack = conn.pendingAck(sendPublishAck, packetId, qos, ReasonCode.Success);
  let result: number | Refusal;
  persistence?.begin(ack);
  try {
    result = broker.publishOrRefuse(messageFromPublish(packet, topic, conn.clientId, now));
    if (typeof result === 'number' && qos === 2) {
      session.incomingQos2.add(packetId);
      if (session.hooks !== null) persistence?.addIncomingQos2(session.clientId, packetId);
    }
  } finally {
    persistence?.end();
  }
  if (typeof result !== 'number') {
    refuse(conn, ack, topic, result); // admission wrote nothing
    return;
  }
  if (result === 0 && conn.protocolVersion === 5) ack.reasonCode = ReasonCode.NoMatchingSubscribers;
  conn.queueAck(ack);
  throttleIfBehind(conn);
}

/** The PUBACK or PUBREC of a QoS 1/2 PUBLISH, once what it caused is on disk (`err`: the first write that failed). */
function sendPublishAck(ack: PendingAck, err: unknown): void {
  const conn = ack.owner as Connection;
  const qos = ack.qos;
  if (qos === 1) conn.incomingInflight--;
  if (err === undefined) {
    conn.writeAck(qos === 1 ? AckType.puback : AckType.pubrec, ack.packetId, ack.reasonCode);
    return;
  }
  // A write failed after admission (an I/O error, or the store reaching its limit within this commit window):
  // the publisher is never told "stored", though live subscribers may have the message already.
  conn.broker.persistence?.failed('publish', err);
  if (qos === 2) conn.session?.incomingQos2.delete(ack.packetId);
  if (conn.protocolVersion === 5) {
    const reasonCode = err instanceof StoreFullError ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError;
    conn.write({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: ack.packetId, reasonCode });
  } else {
    // 3.1.1 has no failure acknowledgement: the connection is closed and the client resends on reconnect.
    conn.close(undefined, 'store write failed');
  }
}

/**
 * A publish refused at admission: it went nowhere. MQTT 5 hears the reason code (PUBACK, or PUBREC, whose reason
 * code of 0x80 or more ends the exchange: MQTT 5.0 section 4.3.3); 3.1.1 cannot be told, so it is disconnected without PUBACK and resends after
 * reconnecting, unless resending cannot help (a message without its last-value key), which is acknowledged.
 */
function refuse(conn: Connection, ack: PendingAck, topic: string, refusal: Refusal): void {
  const action = conn.protocolVersion === 5
    ? `answered 0x${refusal.reasonCode.toString(16)}`
    : refusal.permanent
      ? 'acknowledged and dropped (MQTT 3.1.1 has no negative acknowledgement; resending cannot help)'
      : 'connection closed without acknowledgement (MQTT 3.1.1 has no negative acknowledgement; the client resends)';
  conn.broker.refusalLog.note(conn.clientId, topic, refusal, action);
  ack.action = sendRefusal;
  ack.detail = refusal;
  conn.queueAck(ack);
}

function sendRefusal(ack: PendingAck): void {
  const conn = ack.owner as Connection;
  const refusal = ack.detail as Refusal;
  const qos = ack.qos;
  const packetId = ack.packetId;
  if (qos === 1) conn.incomingInflight--;
  const cmd = qos === 1 ? 'puback' : 'pubrec';
  if (conn.protocolVersion === 5) conn.write({ cmd, messageId: packetId, reasonCode: refusal.reasonCode });
  else if (refusal.permanent) {
    // A resent QoS 2 PUBLISH of it is answered again without delivery, until PUBREL [MQTT-4.3.3-10].
    if (qos === 2) conn.session!.incomingQos2.add(packetId);
    conn.write({ cmd, messageId: packetId });
  } else conn.close(undefined, `publish refused: ${refusal.reason}`);
}

/**
 * A publish the ACL does not allow: 5.0 answers 0x87 Not authorized (PUBREC's ends the QoS 2 exchange); 3.1.1,
 * which has no negative acknowledgement, acknowledges it and drops it, as [MQTT-3.3.5-2] allows. QoS 0 is dropped.
 */
function refuseUnauthorized(conn: Connection, topic: string, qos: 0 | 1 | 2, packetId: number | undefined): void {
  conn.broker.auth.publishDenied(conn.clientId, topic);
  if (qos === 0) return;
  const cmd = qos === 1 ? 'puback' : 'pubrec';
  conn.acknowledge(undefined, () => {
    if (conn.protocolVersion === 5) conn.write({ cmd, messageId: packetId, reasonCode: ReasonCode.NotAuthorized });
    else conn.write({ cmd, messageId: packetId });
  });
}

/** Backpressure: while the store's commits lag, this publisher's socket is not read. */
function throttleIfBehind(conn: Connection): void {
  const broker = conn.broker;
  if (broker.storeBehind()) conn.throttleUntilCommitted(broker.persistence!.store.flush());
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
    (conn.aliasesIn ??= new Map()).set(alias, packet.topic);
    return packet.topic;
  }
  const topic = conn.aliasesIn?.get(alias);
  if (topic === undefined) throw new ProtocolViolation(ReasonCode.ProtocolError, `unknown topic alias ${alias}`);
  return topic;
}
