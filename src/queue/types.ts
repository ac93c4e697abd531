// Queue definitions and the contracts between the queue engine and its dispatch strategies.

import type { KeySpec } from './key.js';

export type QueueType = 'standard' | 'lastvalue';
export type DispatchName = 'random' | 'round_robin' | 'least_inflight' | 'hash_key';
export type OverflowPolicy = 'reject' | 'drop_oldest';
/** Last-value queues: a message without a key is refused (PUBACK 0x99) or kept under the empty key. */
export type MissingKeyPolicy = 'reject' | 'fallback';

/** A queue as declared (configuration, admin API, or auto-created by a consuming subscription). */
export interface QueueDefinition {
  /** Letters, digits, `_`, `-`, `.`; defaults to a name derived from the topic filter. */
  name: string;
  /** MQTT topic filter whose publishes the queue captures. */
  topicFilter: string;
  type: QueueType;
  /**
   * Where a message's key comes from (last-value queues, hash_key dispatch): `userProperty:<name>`,
   * `topicLevel:<n>` (0-based), `topic`, `clientId`, `json:<dot.path>`, or a list of them (a composite key);
   * undefined = no key.
   */
  key: KeySpec | undefined;
  dispatch: DispatchName;
  /** Last-value queues: what happens to a message whose key is missing. */
  missingKey: MissingKeyPolicy;
  /** Unacknowledged messages per consumer (also bounded by the consumer's Receive Maximum). */
  consumerInflight: number;
  /** Messages older than this are expired; 0 = kept until consumed. */
  retentionMs: number;
  /** 0 = no limit. */
  maxMessages: number;
  /** 0 = no limit. */
  maxBytes: number;
  overflow: OverflowPolicy;
  /** After this many rejected or timed-out deliveries a message is dead-lettered; 0 = never. */
  maxDeliveries: number;
  /** Queue name receiving dead letters; undefined = dropped and counted. */
  deadLetter: string | undefined;
  redeliveryDelayMs: number;
  /** 0 = off. */
  ackTimeoutMs: number;
  /**
   * Templates only (a topicFilter with named levels, `lights/{id}/commands`): how many queues the template may
   * create; the next one is refused (PUBACK 0x97 Quota exceeded). See template.ts.
   */
  maxInstances?: number;
  /** An instance of a template: the template's name, and the values of its named levels. */
  template?: string;
  templateValues?: Record<string, string>;
}

/** Templates create at most this many queues unless their maxInstances says otherwise. */
export const DEFAULT_MAX_INSTANCES = 1000;

export const DEFAULT_QUEUE_SETTINGS: Omit<QueueDefinition, 'name' | 'topicFilter'> = {
  type: 'standard',
  key: undefined,
  dispatch: 'least_inflight',
  missingKey: 'reject',
  consumerInflight: 32,
  retentionMs: 0,
  maxMessages: 0,
  maxBytes: 0,
  overflow: 'reject',
  maxDeliveries: 0,
  deadLetter: undefined,
  redeliveryDelayMs: 0,
  ackTimeoutMs: 0,
};

/** What a dispatch strategy may see of a consumer. */
export interface ConsumerView {
  /** Client identifier of the consumer's session. */
  readonly id: string;
  /** Unacknowledged deliveries of this queue to this consumer. */
  readonly inflight: number;
  /** True while the consumer can take one more message (inflight below its limit, connection writable). */
  hasRoom(): boolean;
}

/** Picks the consumer for one message. Strategies keep their own state (cursor, key assignments). */
export interface DispatchStrategy {
  /**
   * A consumer with room for a message with this key (undefined when the message has none), or undefined
   * when none may take it now (for hash_key: the key's consumer is busy; the message then waits).
   */
  pick(consumers: readonly ConsumerView[], key: string | undefined): ConsumerView | undefined;
  /** The consumer left the queue (disconnect, unsubscribe): forget what is tied to it. */
  removed(consumerId: string): void;
}
