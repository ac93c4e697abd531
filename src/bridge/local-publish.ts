// An in-process publish into the local broker through its normal path (queues, subscribers, retained), for what
// comes down from the upstream. QoS 1/2 are admitted everywhere or nowhere, as a client's publish is, and the
// returned promise settles when everything the message caused is on disk: only then is the upstream acknowledged.
// (A stand-in for a broker-level local publisher shared with the device bridge; the lead reconciles the two.)

import type { Broker } from '../broker/broker.js';
import type { Message } from '../protocol/message.js';
import type { Refusal } from '../queue/errors.js';

export type LocalPublishResult = { durable: Promise<void> | undefined } | { refused: Refusal };

export function publishLocally(broker: Broker, msg: Message): LocalPublishResult {
  const persistence = broker.persistence;
  if (msg.qos === 0) {
    persistence?.begin();
    broker.publish(msg);
    persistence?.finish();
    return { durable: undefined };
  }
  persistence?.begin();
  const result = broker.publishOrRefuse(msg);
  if (typeof result !== 'number') {
    persistence?.finish();
    return { refused: result };
  }
  return { durable: persistence?.finish() };
}
