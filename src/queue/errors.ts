// Why a publish was refused, as a reason code for the publisher's acknowledgement. Refusals are decided before the
// message goes anywhere (admission), so a refused message reaches no subscriber, no queue and no session.

import { ReasonCode } from '../protocol/reason-codes.js';

/** The refusal kinds, as counted in wharf_publish_refused_total{reason=...}. */
export type RefusalReason = 'queue_full' | 'missing_key' | 'store_full' | 'session_queue_full' | 'invalid_command' | 'instance_limit' | 'instance_invalid';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['queue_full', 'missing_key', 'store_full', 'session_queue_full', 'invalid_command', 'instance_limit', 'instance_invalid'];

export interface Refusal {
  reason: RefusalReason;
  /** PUBACK/PUBREC reason code for an MQTT 5 publisher. */
  reasonCode: number;
  /**
   * True when resending cannot help (a last-value message without a key): a 3.1.1 publisher, which cannot be told,
   * gets its PUBACK and the message is dropped and counted. Otherwise a 3.1.1 publisher is disconnected without
   * PUBACK and resends after reconnecting, which succeeds once there is room.
   */
  permanent: boolean;
  /** The queue that refused, if a queue did. */
  queue: string | undefined;
  detail: string;
}

export function missingKeyRefusal(queue: string, keySpec: string | readonly string[] | undefined): Refusal {
  const spec = keySpec === undefined ? 'no key source' : typeof keySpec === 'string' ? keySpec : `[${keySpec.join(', ')}]`;
  return { reason: 'missing_key', reasonCode: ReasonCode.PayloadFormatInvalid, permanent: true, queue, detail: `message has no key (${spec})` };
}

export function queueFullRefusal(queue: string, limit: string): Refusal {
  return { reason: 'queue_full', reasonCode: ReasonCode.QuotaExceeded, permanent: false, queue, detail: `queue is at its ${limit} limit` };
}

export function storeFullRefusal(queue: string | undefined): Refusal {
  return { reason: 'store_full', reasonCode: ReasonCode.QuotaExceeded, permanent: false, queue, detail: 'storage limit reached' };
}

/**
 * A queue template already made its maxInstances queues. Permanent: the limit stays until an operator deletes an
 * instance, so a 3.1.1 publisher (who cannot be told) is acknowledged and the message is not queued, counted.
 */
export function instanceLimitRefusal(template: string, maxInstances: number): Refusal {
  return { reason: 'instance_limit', reasonCode: ReasonCode.QuotaExceeded, permanent: true, queue: template, detail: `queue template ${template} is at its maxInstances limit of ${maxInstances} queues` };
}

/** A template's instance cannot be made (its name would be invalid or taken): the topic cannot be queued. */
export function instanceInvalidRefusal(template: string, why: string): Refusal {
  return { reason: 'instance_invalid', reasonCode: ReasonCode.TopicNameInvalid, permanent: true, queue: template, detail: `queue template ${template}: ${why}` };
}

export const SESSION_QUEUE_FULL: Refusal = {
  reason: 'session_queue_full',
  reasonCode: ReasonCode.QuotaExceeded,
  permanent: false,
  queue: undefined,
  detail: 'a subscriber session holds mqtt.maxQueuedMessages',
};

export const STORE_FULL: Refusal = storeFullRefusal(undefined);
