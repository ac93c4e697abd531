// SUBSCRIBE (MQTT 5.0 section 3.8): validate each filter, store it with its options, answer one reason code per
// filter in SUBACK, then send matching retained messages as Retain Handling asks.

import type { ISubscribePacket, QoS } from 'mqtt-packet';
import { isValidTopicFilter } from '../../protocol/topic.js';
import { ProtocolViolation, ReasonCode } from '../../protocol/reason-codes.js';
import type { Connection } from '../connection.js';
import type { Subscription } from '../subscription.js';
import { StoreFullError } from '../../store/errors.js';
import type { QueueRef } from '../../queue/engine.js';
import { queueRefOf, sharedFilterOf } from '../subscription-forms.js';
import type { Queue } from '../../queue/queue.js';
import { consumeQueue } from '../session-consumer.js';
import { queueSubscribeAllowed } from '../../auth/queue-rights.js';

/** A consuming subscription the ACL refused: not resolved (nothing is created), answered Not authorized. */
const DENIED = 'denied';

export function handleSubscribe(conn: Connection, packet: ISubscribePacket): void {
  const queues = conn.broker.queues;
  const dollarQueue = conn.broker.config.queues.dollarQueue;
  const acl = conn.session!.acl;
  const refs: Array<QueueRef | null | 'invalid' | typeof DENIED> = packet.subscriptions.map((r) => queueRefOf(r.topic, dollarQueue));
  if (acl !== null && queues !== null) {
    const defaults = conn.broker.config.queues.defaults;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      if (ref !== null && ref !== 'invalid' && ref !== DENIED && !queueSubscribeAllowed(acl, queues, ref, defaults)) refs[i] = DENIED;
    }
  }
  if (queues === null || !refs.some((r) => r !== null && r !== 'invalid' && r !== DENIED)) {
    subscribeResolved(conn, packet, refs, []);
    return;
  }
  // Consuming subscriptions name queues that may have to be created (a commit): later packets wait, in order.
  conn.holdPackets();
  Promise.all(refs.map((r) => (r !== null && r !== 'invalid' && r !== DENIED ? queues.resolve(r).catch((err: Error) => err.message) : undefined))).then((resolved) => {
    // Closed meanwhile: a session that lives on still gets the subscriptions it asked for (a persistent consumer
    // that subscribes and leaves finds them on its return); nothing is written back.
    if (conn.closed && conn.broker.sessions.byClientId.get(conn.session!.clientId) !== conn.session) return;
    try {
      subscribeResolved(conn, packet, refs, resolved);
    } catch (err) {
      if (err instanceof ProtocolViolation) conn.protocolError(err);
      else throw err;
    }
    conn.releasePackets();
  });
}

function subscribeResolved(conn: Connection, packet: ISubscribePacket, refs: Array<QueueRef | null | 'invalid' | typeof DENIED>, resolved: Array<Queue | string | undefined>): void {
  const broker = conn.broker;
  const session = conn.session!;
  const v5 = conn.protocolVersion === 5;
  const subscriptionId = packet.properties?.subscriptionIdentifier as number | undefined;
  // A Subscription Identifier of 0 is a protocol error [MQTT-3.8.2-?, section 3.8.2.1.2].
  if (subscriptionId === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'subscription identifier 0');
  // Included more than once (mqtt-packet then gives an array): a protocol error too (section 3.8.2.1.2).
  if (Array.isArray(subscriptionId)) throw new ProtocolViolation(ReasonCode.ProtocolError, 'subscription identifier included more than once');
  // At least one topic filter [MQTT-3.8.3-2]; 3.1.1 [MQTT-3.8.3-3].
  if (packet.subscriptions.length === 0) throw new ProtocolViolation(ReasonCode.ProtocolError, 'SUBSCRIBE without topic filters');
  const failure = v5 ? ReasonCode.TopicFilterInvalid : 0x80;
  // 0x87 on 5.0, 0x80 on 3.1.1 (Mosquitto grants and withholds messages instead, mosquitto#744; README, Security).
  const notAuthorized = v5 ? ReasonCode.NotAuthorized : 0x80;
  const acl = session.acl;
  const granted: number[] = [];
  const retainedFor: Subscription[] = [];
  const changes: Array<{ sub: Subscription; existing: Subscription | undefined; index: number }> = [];

  for (const [i, request] of packet.subscriptions.entries()) {
    const filter = request.topic;
    const ref = refs[i];
    if (ref === DENIED) {
      broker.auth.subscribeDenied(session.clientId, filter);
      granted.push(notAuthorized);
      continue;
    }
    if (ref !== null && ref !== undefined) {
      const queue = resolved[i];
      // A queue that does not exist (and may not be created) is a failure, never a silent success.
      if (ref === 'invalid' || queue === undefined || typeof queue === 'string') {
        granted.push(ref === 'invalid' ? failure : 0x80);
        continue;
      }
      const existing = session.subscriptions.get(filter);
      if (existing === undefined && session.subscriptions.size >= broker.config.mqtt.maxSubscriptionsPerSession) {
        granted.push(v5 ? ReasonCode.QuotaExceeded : 0x80);
        continue;
      }
      // Queue deliveries are at QoS 1 at most: at least once, acknowledged by PUBACK.
      const qos = Math.min(request.qos, 1) as QoS;
      const sub: Subscription = {
        session,
        topicFilter: filter,
        matchFilter: filter,
        shareGroup: undefined,
        qos,
        noLocal: false,
        retainAsPublished: false,
        retainHandling: 2,
        subscriptionId,
        queueName: queue.name,
      };
      if (existing?.queueName !== undefined) broker.queues?.removeConsumer(session, existing.queueName);
      session.subscriptions.set(filter, sub);
      consumeQueue(broker.queues, session, sub);
      changes.push({ sub, existing, index: granted.length });
      granted.push(qos);
      continue;
    }
    const shared = sharedFilterOf(filter, broker.config.queues.dollarQueue);
    if (shared === 'invalid' || (shared === null && !isValidTopicFilter(filter))) {
      granted.push(failure);
      continue;
    }
    // A shared subscription is checked on its topic filter, without `$share/<group>/`.
    if (acl !== null && !acl.canSubscribe(shared === null ? filter : shared.filter)) {
      broker.auth.subscribeDenied(session.clientId, filter);
      granted.push(notAuthorized);
      continue;
    }
    const noLocal = request.nl === true;
    // No Local on a shared subscription is a protocol error [MQTT-3.8.3-4].
    if (shared !== null && noLocal) throw new ProtocolViolation(ReasonCode.ProtocolError, 'No Local on a shared subscription');
    const existing = session.subscriptions.get(filter);
    if (existing === undefined && session.subscriptions.size >= broker.config.mqtt.maxSubscriptionsPerSession) {
      granted.push(v5 ? ReasonCode.QuotaExceeded : 0x80);
      continue;
    }
    const qos = Math.min(request.qos, 2) as QoS;
    const sub: Subscription = {
      session,
      topicFilter: filter,
      matchFilter: shared === null ? filter : shared.filter,
      shareGroup: shared === null ? undefined : shared.group,
      qos,
      noLocal,
      retainAsPublished: request.rap === true,
      retainHandling: (request.rh ?? 0) as 0 | 1 | 2,
      subscriptionId,
    };
    // A subscription with the same filter is replaced, keeping the session's other state [MQTT-3.8.4-3].
    if (existing !== undefined) broker.trie.remove(existing);
    session.subscriptions.set(filter, sub);
    broker.trie.add(sub);
    changes.push({ sub, existing, index: granted.length });
    granted.push(qos);
    // Retained messages: on every subscribe (0), only on a new one (1), never (2); never for a shared one.
    if (shared === null && (sub.retainHandling === 0 || (sub.retainHandling === 1 && existing === undefined))) retainedFor.push(sub);
  }

  // A persistent session's subscriptions are on disk before SUBACK says they exist.
  const durable = changes.length > 0 && session.hooks !== null ? broker.persistence?.saveSession(session, true) : undefined;
  conn.acknowledge(durable, (err) => {
    if (err !== undefined) {
      broker.persistence?.failed('subscribe', err);
      rollBack(conn, changes);
      for (const c of changes) granted[c.index] = v5 ? (err instanceof StoreFullError ? ReasonCode.QuotaExceeded : ReasonCode.UnspecifiedError) : 0x80;
      conn.write({ cmd: 'suback', messageId: packet.messageId, granted });
      return;
    }
    conn.write({ cmd: 'suback', messageId: packet.messageId, granted });
    // The connection may have closed while SUBACK waited for the commit: a session that lives on still gets the
    // retained messages (queued for its return), as it would had the commit been quicker.
    if (broker.sessions.byClientId.get(session.clientId) !== session) return;
    const now = Date.now();
    for (const sub of retainedFor) {
      for (const msg of broker.retained.match(sub.matchFilter, now)) {
        // A granted wildcard filter may hold retained topics a deny rule withholds.
        if (session.acl !== null && !session.acl.canRead(msg.topic)) continue;
        // Retained messages sent because of a new subscription carry RETAIN 1 [MQTT-3.3.1-9].
        const qos = (msg.qos < sub.qos ? msg.qos : sub.qos) as QoS;
        session.deliver(msg, qos, true, sub.subscriptionId === undefined ? undefined : [sub.subscriptionId]);
      }
    }
  });
}

/** Undoes subscriptions whose record could not be stored: the client is told they failed, so they must not act. */
function rollBack(conn: Connection, changes: Array<{ sub: Subscription; existing: Subscription | undefined }>): void {
  const session = conn.session!;
  const trie = conn.broker.trie;
  for (let i = changes.length - 1; i >= 0; i--) {
    const { sub, existing } = changes[i]!;
    if (session.subscriptions.get(sub.topicFilter) !== sub) continue;
    if (sub.queueName !== undefined) conn.broker.queues?.removeConsumer(session, sub.queueName);
    else trie.remove(sub);
    if (existing !== undefined) {
      session.subscriptions.set(sub.topicFilter, existing);
      if (existing.queueName !== undefined) consumeQueue(conn.broker.queues, session, existing);
      else trie.add(existing);
    } else {
      session.subscriptions.delete(sub.topicFilter);
    }
  }
}
