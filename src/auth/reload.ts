// SIGHUP: the password and ACL files are read again; connected clients stay connected and every session
// (online or not) takes the new rules, its cached decisions forgotten. A queue consumer whose `consume` right
// went away stops consuming at once (queue deliveries pass no per-message topic check).

import type { Broker } from '../broker/broker.js';
import { pruneQueueSubscriptions } from './session-prune.js';

export function reloadAuth(broker: Broker): void {
  const acl = broker.auth.reload();
  if (acl === null) return;
  for (const session of broker.sessions.byClientId.values()) {
    if (session.acl === null) continue;
    session.acl.reload(acl);
    pruneQueueSubscriptions(broker, session, session.acl);
  }
}
