// The queue rights a consuming subscription needs ($q/<filter>, $queue/<name>[/<filter>]): `consume` on the
// queue it names, and `create` too when the subscription would auto-create it. Topic rules do not apply to it.

import { autoQueueDefinition } from '../config/queues.js';
import type { QueueSettings } from '../config/types.js';
import type { QueueEngine, QueueRef } from '../queue/engine.js';
import type { SessionAcl } from './session-acl.js';

/** May the client subscribe with `ref`? Asked before the queue is resolved, so a refusal creates nothing. */
export function queueSubscribeAllowed(acl: SessionAcl, queues: QueueEngine, ref: QueueRef, defaults: QueueSettings): boolean {
  const existing = ref.name !== undefined ? queues.queueByName(ref.name) : queues.queues().find((q) => q.definition.topicFilter === ref.topicFilter);
  if (existing !== undefined) return acl.canConsume(existing.name);
  // Not there yet: the name it would be created with (resolve() refuses malformed ones itself).
  const name = ref.name ?? (ref.topicFilter === undefined ? undefined : nameOf(autoQueueDefinition(ref.topicFilter, defaults)));
  return name !== undefined && acl.canCreate(name) && acl.canConsume(name);
}

function nameOf(def: ReturnType<typeof autoQueueDefinition>): string | undefined {
  return typeof def === 'string' ? undefined : def.name;
}
