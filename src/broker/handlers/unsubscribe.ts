// UNSUBSCRIBE (MQTT 5.0 section 3.10): remove each filter, one reason code per filter in UNSUBACK (5.0).

import type { IUnsubscribePacket } from 'mqtt-packet';
import { isValidTopicFilter } from '../../protocol/topic.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import { queueRefOf, sharedFilterOf } from '../subscription-forms.js';

export function handleUnsubscribe(conn: Connection, packet: IUnsubscribePacket): void {
  const broker = conn.broker;
  const session = conn.session!;
  const reasonCodes: number[] = [];
  // At least one topic filter [MQTT-3.10.3-2].
  if (packet.unsubscriptions.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'UNSUBSCRIBE without topic filters');
  for (const filter of packet.unsubscriptions) {
    const dollarQueue = broker.config.queues.dollarQueue;
    const shared = sharedFilterOf(filter, dollarQueue);
    const queueRef = queueRefOf(filter, dollarQueue);
    if (queueRef === 'invalid' || shared === 'invalid' || (shared === null && queueRef === null && !isValidTopicFilter(filter))) {
      reasonCodes.push(ReasonCode.TopicFilterInvalid);
      continue;
    }
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) {
      reasonCodes.push(ReasonCode.NoSubscriptionExisted);
      continue;
    }
    session.subscriptions.delete(filter);
    if (sub.queueName !== undefined) {
      // The session may name the same queue through another form ($q/<filter> and $queue/<name>): it stays a consumer.
      const queueName = sub.queueName;
      let still = false;
      for (const other of session.subscriptions.values()) if (other.queueName === queueName) still = true;
      if (!still) broker.queues?.removeConsumer(session, queueName);
    } else broker.trie.remove(sub);
    reasonCodes.push(ReasonCode.Success);
  }
  // [MQTT-3.10.4-4] UNSUBACK even when nothing was removed; 3.1.1's carries no reason codes.
  const removed = reasonCodes.includes(ReasonCode.Success);
  const durable = removed && session.hooks !== null ? broker.persistence?.saveSession(session, true) : undefined;
  conn.acknowledge(durable, (err) => {
    if (err !== undefined) broker.persistence?.failed('unsubscribe', err);
    // mqtt-packet carries UNSUBACK reason codes in `granted`.
    conn.write({ cmd: 'unsuback', messageId: packet.messageId!, granted: reasonCodes });
  });
}
