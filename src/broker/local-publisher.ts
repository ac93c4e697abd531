// Publishing from inside the process (field devices, issue 14) through the broker's normal path, as a client
// would: QoS 1/2 admitted everywhere or nowhere (broker.publishOrRefuse) and answered only once durable, like a
// client's PUBACK (src/broker/handlers/publish.ts); QoS 0 routed without waiting. The publisher is named, so
// No Local and the refusal log see it as one origin. publishLocally() is the admission step alone, for callers
// that answer someone else once the message is durable (the upstream bridge's downlink).

import type { QoS } from 'mqtt-packet';
import type { Message, MessageProperties } from '../protocol/message.js';
import { StoreFullError } from '../store/errors.js';
import type { Refusal } from '../queue/errors.js';
import type { Broker } from './broker.js';

export type LocalPublishOutcome =
  /** Routed (QoS 0) or stored durably (QoS 1/2); receivers = subscriptions + queues that took it. */
  | { kind: 'stored'; receivers: number }
  /** Refused at admission (a full queue, a full store): it went nowhere. */
  | { kind: 'refused'; reason: string; detail: string }
  /** Admitted, then the commit failed: live subscribers may have it, the store does not. */
  | { kind: 'failed'; error: string };

export interface LocalPublishOptions {
  qos: QoS;
  retain: boolean;
  properties?: MessageProperties;
  /** Message Expiry Interval, seconds; undefined = never expires. */
  expiryIntervalS?: number;
}

export type LocalPublishResult = { receivers: number; durable: Promise<void> | undefined } | { refused: Refusal };

/**
 * One message into the broker's normal path (queues, subscribers, retained): QoS 1/2 admitted everywhere or
 * nowhere, `durable` settling once everything it caused is on disk (undefined without a store, or for QoS 0).
 */
export function publishLocally(broker: Broker, msg: Message): LocalPublishResult {
  const persistence = broker.persistence;
  persistence?.begin();
  if (msg.qos === 0) {
    const receivers = broker.publish(msg);
    persistence?.finish();
    return { receivers, durable: undefined };
  }
  const result = broker.publishOrRefuse(msg);
  if (typeof result !== 'number') {
    persistence?.finish();
    return { refused: result };
  }
  return { receivers: result, durable: persistence?.finish() };
}

export class LocalPublisher {
  constructor(
    private readonly broker: Broker,
    /** The publisher's identity in the broker (Message.origin, refusal log), e.g. `device:meter1`. */
    readonly origin: string,
  ) {}

  /** True while the store's commits lag (publishers are throttled): a caller should not pile up more. */
  behind(): boolean {
    return this.broker.storeBehind();
  }

  async publish(topic: string, payload: Buffer, options: LocalPublishOptions): Promise<LocalPublishOutcome> {
    const broker = this.broker;
    const now = Date.now();
    const msg: Message = {
      topic,
      payload,
      qos: options.qos,
      retain: options.retain,
      properties: options.properties,
      expiresAt: options.expiryIntervalS === undefined ? 0 : now + options.expiryIntervalS * 1000,
      origin: this.origin,
    };
    broker.stats.messagesInByQos[options.qos]++;
    broker.stats.bytesInByQos[options.qos] += payload.length;
    const admitted = publishLocally(broker, msg);
    if ('refused' in admitted) {
      const refusal = admitted.refused;
      broker.refusalLog.note(this.origin, topic, refusal, 'reading dropped (counted)');
      return { kind: 'refused', reason: refusal.reason, detail: refusal.detail };
    }
    const { receivers, durable } = admitted;
    if (durable === undefined) return { kind: 'stored', receivers };
    try {
      await durable;
      return { kind: 'stored', receivers };
    } catch (err) {
      broker.persistence!.failed('publish', err);
      return { kind: 'failed', error: err instanceof StoreFullError ? 'store full' : err instanceof Error ? err.message : String(err) };
    }
  }
}
