// The JSON shapes of the admin API: queues (settings in the configuration file's form, so a `show` can be fed
// back to `create`), sessions, connected clients, retained and queued messages.

import type { Connection } from '../broker/connection.js';
import type { Message } from '../protocol/message.js';
import type { Session } from '../broker/session.js';
import { formatDuration } from '../config/rules.js';
import type { ConsumerFigures, QueueFigures } from '../metrics/figures.js';
import type { QueueDefinition } from '../queue/types.js';
import type { QueueMessage } from '../store/types.js';
import { payloadView } from './http.js';

/** A definition with the file's keys and duration strings (`retention: "7d"`, not `retentionMs`). */
export function definitionView(d: QueueDefinition): Record<string, unknown> {
  return {
    name: d.name,
    topicFilter: d.topicFilter,
    type: d.type,
    key: d.key ?? null,
    dispatch: d.dispatch,
    missingKey: d.missingKey,
    consumerInflight: d.consumerInflight,
    retention: formatDuration(d.retentionMs),
    maxMessages: d.maxMessages,
    maxBytes: d.maxBytes,
    overflow: d.overflow,
    maxDeliveries: d.maxDeliveries,
    deadLetter: d.deadLetter ?? null,
    redeliveryDelay: formatDuration(d.redeliveryDelayMs),
    ackTimeout: formatDuration(d.ackTimeoutMs),
    ...(d.maxInstances !== undefined ? { maxInstances: d.maxInstances } : {}),
    ...(d.template !== undefined ? { template: d.template, templateValues: d.templateValues ?? {} } : {}),
  };
}

export function queueDetail(f: QueueFigures, d: QueueDefinition, consumers: ConsumerFigures[]): Record<string, unknown> {
  return { ...f, settings: definitionView(d), consumerList: consumers };
}

function protocolName(v: number): string {
  return v === 5 ? '5.0' : v === 4 ? '3.1.1' : '3.1';
}

export function sessionView(s: Session, detail: boolean): Record<string, unknown> {
  const conn = s.link as Connection | null;
  const view: Record<string, unknown> = {
    clientId: s.clientId,
    connected: conn !== null,
    protocol: protocolName(s.protocolVersion),
    // 0xFFFFFFFF is "never expires" [MQTT 5.0 section 3.1.2.11.2].
    sessionExpiryInterval: s.expiryInterval === 0xffffffff ? null : s.expiryInterval,
    persistent: s.hooks !== null,
    subscriptions: s.subscriptions.size,
    inflight: s.inflight.size,
    queued: s.pending.length,
  };
  if (conn !== null) view.remote = conn.remoteAddress;
  if (detail) {
    view.subscriptionList = [...s.subscriptions.values()].map((sub) => ({
      topicFilter: sub.topicFilter,
      qos: sub.qos,
      noLocal: sub.noLocal,
      retainAsPublished: sub.retainAsPublished,
      retainHandling: sub.retainHandling,
      subscriptionId: sub.subscriptionId ?? null,
      queue: sub.queueName ?? null,
    }));
  }
  return view;
}

export function clientView(conn: Connection, now: number, detail: boolean): Record<string, unknown> {
  const session = conn.session!;
  return {
    ...sessionView(session, detail),
    remote: conn.remoteAddress,
    protocol: protocolName(conn.protocolVersion),
    connectedAt: new Date(conn.connectedAt).toISOString(),
    connectedSeconds: Math.floor((now - conn.connectedAt) / 1000),
    keepAlive: Math.round(conn.keepAliveMs / 1500),
    receiveMaximum: conn.clientReceiveMaximum,
  };
}

export function retainedView(m: Message): Record<string, unknown> {
  return {
    topic: m.topic,
    qos: m.qos,
    ...payloadView(m.payload),
    expiresAt: m.expiresAt === 0 ? null : new Date(m.expiresAt).toISOString(),
  };
}

export function queuedMessageView(m: QueueMessage, inflight: boolean): Record<string, unknown> {
  return {
    seq: m.seq,
    topic: m.message.topic,
    qos: m.message.qos,
    key: m.key ?? null,
    ...payloadView(m.message.payload),
    enqueuedAt: new Date(m.enqueuedAt).toISOString(),
    deliveryCount: m.deliveryCount,
    inflight,
    expiresAt: m.message.expiresAt === 0 ? null : new Date(m.message.expiresAt).toISOString(),
    userProperties: m.message.properties?.userProperties ?? null,
  };
}
