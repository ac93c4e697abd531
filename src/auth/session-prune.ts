// A resumed session is held to the rules of the client now connecting: subscriptions it may no longer make
// (a reloaded ACL, or a session restored from disk after a restart, whose user was not recorded) are removed
// before it is attached, so they neither deliver nor keep consuming a queue.

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
