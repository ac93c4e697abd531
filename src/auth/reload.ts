// SIGHUP: the password and ACL files are read again; connected clients stay connected and every session
// (online or not) takes the new rules, its cached decisions forgotten.

import type { Broker } from '../broker/broker.js';

export function reloadAuth(broker: Broker): void {
  const acl = broker.auth.reload();
  if (acl === null) return;
  for (const session of broker.sessions.byClientId.values()) session.acl?.reload(acl);
}
