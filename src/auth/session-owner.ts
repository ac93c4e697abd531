// Who a session belongs to, kept with a persistent session in the store, so that the ACL still applies to it
// while its client is away: after a restart its restored subscriptions only take what its owner may read, and a
// client reconnecting with the same identifier under another user name does not inherit what was queued for it.

import type { Broker } from '../broker/broker.js';
import type { Session } from '../broker/session.js';

/**
 * True when `session` is known to belong to another user than `username` (undefined: anonymous). A session
 * whose owner is not known (a record written before owners were recorded) is not taken for someone else's:
 * its queued messages are checked on delivery instead (Session.drain).
 */
export function ownedByAnother(session: Session, username: string | undefined): boolean {
  return session.username !== undefined && session.username !== (username ?? null);
}

/**
 * The session is discarded because another user connects with its client identifier (the new client starts
 * clean): its queued and unacknowledged messages were for the previous owner and are counted as withheld.
 */
export function discardForAnotherUser(broker: Broker, session: Session): void {
  let withheld = session.pending.length;
  for (const out of session.inflight.values()) if (out.owner === undefined) withheld++;
  broker.stats.deliveriesWithheld += withheld;
  broker.log.info('session of another user discarded: the client id connected under a different user name', { clientId: session.clientId, withheld });
}

/**
 * At start, once the ACL file is read: every session restored from the store takes its recorded owner's rules,
 * so messages for an offline session are only queued when its owner may read them (Router, deliverTo).
 * Sessions without a recorded owner stay unchecked until their client connects (its rules then apply to
 * everything queued meanwhile).
 */
export function applyOwnerAcls(broker: Broker): number {
  let applied = 0;
  for (const session of broker.sessions.byClientId.values()) {
    if (session.acl !== null || session.username === undefined) continue;
    session.acl = broker.auth.sessionAcl(session.username ?? undefined, session.clientId);
    if (session.acl !== null) applied++;
  }
  return applied;
}
