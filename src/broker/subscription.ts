// A client's subscription as the router sees it: options of MQTT 5.0 section 3.8.3.1 plus its owner.

import type { QoS } from 'mqtt-packet';
import type { Session } from './session.js';

export interface Subscription {
  session: Session;
  /** The filter exactly as subscribed, including any `$share/<group>/` prefix: the session's key for it. */
  topicFilter: string;
  /** The filter that is matched against topics (without the share prefix). */
  matchFilter: string;
  shareGroup: string | undefined;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
  /** Set for a consuming subscription ($q/, $queue/): the queue it consumes; it is then not in the topic trie. */
  queueName?: string;
}
