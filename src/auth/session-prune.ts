// A resumed session is held to the rules of the client now connecting: subscriptions it may no longer make
// (a reloaded ACL, an ACL file edited while the broker was down, a session whose owner was not recorded) are
// removed before it is attached, so they neither deliver nor keep consuming a queue. After a reload, queue
// subscriptions without `consume` go at once.

import type { Broker } from '../broker/broker.js';
import type { Session } from '../broker/session.js';
import type { SessionAcl } from './session-acl.js';

/** Removes what `acl` does not allow from `session`; returns how many subscriptions went. */
export function pruneSubscriptions(broker: Broker, session: Session, acl: SessionAcl): number {
  let removed = 0;
  for (const [filter, sub] of session.subscriptions) {
    const allowed = sub.queueName !== undefined ? acl.canConsume(sub.queueName) : acl.canSubscribe(sub.matchFilter);
    if (allowed) continue;
    session.subscriptions.delete(filter);
    if (sub.queueName !== undefined) broker.queues?.removeConsumer(session, sub.queueName);
    else broker.trie.remove(sub);
    removed++;
  }
  if (removed > 0) broker.log.info('subscriptions removed from a resumed session: not authorized', { clientId: session.clientId, removed });
  return removed;
}

/**
 * After a reload: the queue subscriptions `acl` no longer allows are removed, their consumers stopped (what they
 * had in flight goes back to the queue for others) and a persistent session's record rewritten. The client is not
 * told (MQTT has no unsubscribe from the server); topic subscriptions stay, their deliveries checked per message.
 */
export function pruneQueueSubscriptions(broker: Broker, session: Session, acl: SessionAcl): number {
  let removed = 0;
  for (const [filter, sub] of session.subscriptions) {
    if (sub.queueName === undefined || acl.canConsume(sub.queueName)) continue;
    session.subscriptions.delete(filter);
    broker.queues?.removeConsumer(session, sub.queueName);
    removed++;
  }
  if (removed === 0) return 0;
  broker.log.info('queue subscriptions removed after a reload: consume no longer granted', { clientId: session.clientId, removed });
  if (session.hooks !== null) broker.persistence?.saveSessionInBackground(session, session.link !== null);
  return removed;
}
