// Records the store keeps, in the broker's vocabulary (MQTT 5.0 names). Structurally compatible with the
// broker's Message and Subscription, without importing the broker (the store sits below it).

export type QoS = 0 | 1 | 2;

/** MQTT 5 PUBLISH properties that travel with a message (section 3.3.2.3). */
export interface StoredMessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

/** An application message as published. */
export interface StoredMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: StoredMessageProperties | undefined;
  /** Absolute expiry time in ms since the epoch; 0 = never. */
  expiresAt: number;
  /** Client identifier of the publisher ('' for the broker itself). */
  origin: string;
}

/** A subscription and its MQTT 5 options (section 3.8.3.1). */
export interface StoredSubscription {
  /** The filter as subscribed, `$share/<group>/` prefix included. */
  topicFilter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionId: number | undefined;
}

/** A persistent session (clean start 0 or session expiry > 0) and its subscriptions. */
export interface SessionState {
  clientId: string;
  protocolVersion: 3 | 4 | 5;
  /** Seconds; 0xFFFFFFFF = never expires. */
  sessionExpiryInterval: number;
  /** ms since the epoch when the client disconnected; null while it is connected. */
  disconnectedAt: number | null;
  subscriptions: StoredSubscription[];
  /**
   * Who the session belongs to, so that the ACL applies to it while it is offline and after a restart: the
   * authenticated user name (the certificate's CN with useIdentityAsUsername), null for an anonymous client,
   * undefined when not known (a record written before owners were recorded).
   */
  username?: string | null;
}

/** A QoS 1/2 message on its way to a session's client: queued (packetId 0) or inflight. */
export interface StoredOutgoing {
  message: StoredMessage;
  /** Delivery QoS, after the downgrade to the subscription's maximum. */
  qos: 1 | 2;
  /** RETAIN flag as delivered. */
  retain: boolean;
  subscriptionIds: number[] | undefined;
  /** Packet identifier while inflight; 0 while queued. */
  packetId: number;
  /** QoS 2: PUBREC received and PUBREL sent, PUBCOMP awaited. */
  released: boolean;
}

export interface SessionMessage extends StoredOutgoing {
  /** Position in the session's queue; order of delivery. */
  seq: number;
  /** The payload is in the record (no payload-store reference). */
  inline: boolean;
}

/** Result of an append: the sequence number at once, and when the record is durable. */
export interface Appended {
  seq: number;
  durable: Promise<void>;
  /** The payload went into the record itself (no payload-store reference to free when it goes). */
  inline: boolean;
}

/** The stored message an append replaces (a last-value queue's previous value of the key). */
export interface ReplacedMessage {
  readonly seq: number;
  /** Its payload is in its record: nothing to free, so the record need not be read. */
  readonly inline: boolean;
}

/** A message in a durable queue. */
export interface QueueMessage {
  seq: number;
  message: StoredMessage;
  /** Last-value key, for last-value queues. */
  key: string | undefined;
  deliveryCount: number;
  /** ms since the epoch. */
  enqueuedAt: number;
  /** The payload is in the record (no payload-store reference). */
  inline: boolean;
}

/** Queue definitions and consumer state are owned by the queue engine; the store keeps them as given. */
export type QueueDefinition = Record<string, unknown>;
export type ConsumerState = Record<string, unknown>;
