// What GET /metrics serves: every broker, store, process, queue and consumer figure as a wharf_* family.

import type { BrokerFigures, ConsumerFigures, PerQos, QueueFigures } from './figures.js';
import type { QueueCounters } from '../queue/counters.js';
import { REFUSAL_REASONS } from '../queue/errors.js';
import { ExpositionWriter, type Labels } from './prometheus.js';
import type { DeviceStatusSource } from '../devices/status.js';
import { writeDeviceMetrics } from './device-metrics.js';

const perQos = (values: PerQos): [Labels, number][] => values.map((v, qos) => [{ qos: String(qos) }, v] as [Labels, number]);

const QUEUE_COUNTERS: readonly [keyof QueueCounters, string, string][] = [
  ['enqueued', 'wharf_queue_enqueued_total', 'Messages appended to the queue.'],
  ['delivered', 'wharf_queue_delivered_total', 'Deliveries to consumers, redeliveries included.'],
  ['acknowledged', 'wharf_queue_acknowledged_total', 'Deliveries acknowledged (PUBACK < 0x80, or sent at QoS 0).'],
  ['rejected', 'wharf_queue_rejected_total', 'Deliveries rejected by a consumer (PUBACK >= 0x80).'],
  ['ackTimeouts', 'wharf_queue_ack_timeouts_total', 'Deliveries not acknowledged within ackTimeout.'],
  ['redelivered', 'wharf_queue_redelivered_total', 'Messages put back to be offered again.'],
  ['expired', 'wharf_queue_expired_total', 'Messages removed by retention or message expiry.'],
  ['dropped', 'wharf_queue_dropped_total', 'Messages dropped by overflow drop_oldest or by a purge.'],
  ['deadLettered', 'wharf_queue_dead_lettered_total', 'Messages that reached maxDeliveries.'],
  ['superseded', 'wharf_queue_superseded_total', 'Last-value queues: values replaced by a newer one with the same key.'],
  ['publishRejected', 'wharf_queue_publish_rejected_total', 'Publishes the queue refused (limit reached, store full, no key).'],
];

export interface ExpositionInput {
  broker: BrokerFigures;
  queues: QueueFigures[];
  consumers: { queue: string; figures: ConsumerFigures[] }[];
  /** Field devices and buses (issue 14); absent when no device manager runs. */
  devices?: DeviceStatusSource;
}

export function renderExposition({ broker: b, queues, consumers, devices }: ExpositionInput): string {
  const w = new ExpositionWriter();
  const m = b.messages;
  w.family('wharf_info', 'gauge', 'Wharf version (always 1).', [[{ version: b.version }, 1]]);
  w.single('wharf_uptime_seconds', 'gauge', 'Seconds since the broker started.', b.uptimeSeconds);
  w.single('wharf_connections', 'gauge', 'Open network connections.', b.connections);
  w.single('wharf_connections_accepted_total', 'counter', 'Network connections accepted.', b.connectionsAccepted);
  w.single('wharf_connects_refused_total', 'counter', 'CONNECT packets refused.', b.connectsRefused);
  w.single('wharf_auth_logins_failed_total', 'counter', 'CONNECTs refused for a bad user name, password or certificate.', b.auth.loginsFailed);
  w.single('wharf_auth_publish_denied_total', 'counter', 'PUBLISH packets the ACL did not allow.', b.auth.publishDenied);
  w.single('wharf_auth_subscribe_denied_total', 'counter', 'Subscriptions the ACL did not allow.', b.auth.subscribeDenied);
  w.single('wharf_auth_deliveries_withheld_total', 'counter', 'Queued messages dropped unsent: the session\'s client may not read them.', m.deliveriesWithheld);
  w.single('wharf_auth_shared_denied_total', 'counter', 'Messages for a shared subscription group none of whose members may read them.', m.sharedGroupDenied);
  w.single('wharf_auth_reloads_total', 'counter', 'Reloads of the password and ACL files (SIGHUP).', b.auth.reloads);
  w.single('wharf_sessions', 'gauge', 'Sessions, connected or kept for a disconnected client.', b.sessions);
  w.single('wharf_sessions_connected', 'gauge', 'Sessions with a connected client.', b.sessionsConnected);
  w.single('wharf_subscriptions', 'gauge', 'Subscriptions of all sessions, queue consumers included.', b.subscriptions);
  w.single('wharf_retained_messages', 'gauge', 'Retained messages of clients held ($SYS topics not included).', b.retained);
  w.single('wharf_retained_sys_topics', 'gauge', 'Retained $SYS topics the broker publishes itself.', b.retainedSys);
  w.single('wharf_queues', 'gauge', 'Durable queues.', b.queues);
  w.family('wharf_messages_received_total', 'counter', 'PUBLISH packets received from clients, by QoS.', perQos(m.received));
  w.family('wharf_messages_sent_total', 'counter', 'PUBLISH packets sent to clients, by QoS.', perQos(m.sent));
  w.family('wharf_received_bytes_total', 'counter', 'Payload bytes of PUBLISH packets received, by QoS.', perQos(m.receivedBytes));
  w.family('wharf_sent_bytes_total', 'counter', 'Payload bytes of PUBLISH packets sent, by QoS.', perQos(m.sentBytes));
  w.single('wharf_messages_dropped_total', 'counter', 'Messages not delivered: QoS 0 to a slow or offline client, or a full session queue.', m.dropped);
  w.single('wharf_messages_dropped_too_large_total', 'counter', "Messages over a client's Maximum Packet Size.", m.droppedTooLarge);
  w.single('wharf_session_queue_full_total', 'counter', 'QoS 1/2 messages refused by a session queue at mqtt.maxQueuedMessages.', m.sessionQueueFull);
  w.family(
    'wharf_publish_refused_total',
    'counter',
    'QoS 1/2 publishes refused before going anywhere (queue full, no last-value key, store full, a session queue full).',
    REFUSAL_REASONS.map((reason) => [{ reason }, m.publishRefused[reason]] as [Labels, number]),
  );
  w.single('wharf_retained_rejected_total', 'counter', 'Retained messages not kept because the retained store was full.', m.retainedRejected);

  const s = b.store;
  if (s !== null) {
    w.single('wharf_store_commits_total', 'counter', 'Store commits (one per commit window).', s.commits);
    w.single('wharf_store_syncs_total', 'counter', 'Durable flushes (fsync/fdatasync) requested by the store.', s.syncs);
    w.single('wharf_store_ops_committed_total', 'counter', 'Store operations made durable.', s.opsCommitted);
    w.single('wharf_store_ops_failed_total', 'counter', 'Store operations refused or failed.', s.opsFailed);
    w.single('wharf_store_written_bytes_total', 'counter', 'Bytes the store wrote to the data directory.', s.bytesWritten);
    w.single('wharf_store_log_written_bytes_total', 'counter', 'Of those, bytes written to the commit log (padding included); the rest is LMDB and payload files.', s.logBytesWritten);
    w.single('wharf_store_log_prepared_bytes_total', 'counter', 'Zeros written ahead into the commit log\'s next file, not counted in wharf_store_written_bytes_total (the records written over them are).', s.logPreparedBytes);
    w.single('wharf_store_payload_bytes_total', 'counter', 'Payload bytes of messages made durable.', s.payloadBytesAccepted);
    // Absent until enough payload was written for the ratio to mean something (figures.ts).
    if (s.writeAmplification !== null) w.single('wharf_store_write_amplification', 'gauge', 'Bytes written per payload byte made durable.', s.writeAmplification);
    w.single('wharf_store_commit_latency_p50_seconds', 'gauge', 'Median commit latency since start.', s.commitLatencyMs.p50 / 1000);
    w.single('wharf_store_commit_latency_p99_seconds', 'gauge', '99th percentile commit latency since start.', s.commitLatencyMs.p99 / 1000);
    w.single('wharf_store_commit_latency_max_seconds', 'gauge', 'Longest commit since start.', s.commitLatencyMs.max / 1000);
    w.single('wharf_store_pending_bytes', 'gauge', 'Bytes accepted and not yet durable.', s.pendingBytes);
    w.single('wharf_store_used_bytes', 'gauge', 'Space in use by live LMDB pages.', s.usedBytes);
    w.single('wharf_store_capacity_bytes', 'gauge', 'Cap on the space of live LMDB pages (storage.mapSizeBytes).', s.capacityBytes);
    w.single('wharf_store_full', 'gauge', '1 while writes that add data are refused for lack of space.', s.full ? 1 : 0);
    const ps = s.payloads;
    w.family('wharf_store_payload_store_info', 'gauge', 'Which payload store runs (kind native or js; always 1).', [[{ kind: ps.kind }, 1]]);
    w.single('wharf_store_payload_disk_bytes', 'gauge', 'Bytes of the payload segment files.', ps.diskBytes);
    w.single('wharf_store_compaction_segments_total', 'counter', 'Payload segments compacted.', ps.segmentsCompacted);
    w.single('wharf_store_compaction_payloads_moved_total', 'counter', 'Live payloads copied out of compacted segments.', ps.payloadsMoved);
    w.single('wharf_store_compaction_copied_bytes_total', 'counter', 'Bytes copied by compaction.', ps.bytesCopied);
    w.single('wharf_store_compaction_segments_skipped_total', 'counter', 'Segments compaction left for a later round.', ps.segmentsSkipped);
  }

  const f = b.flash;
  if (f !== null) {
    // Flash wear (flash-wear.ts): per-day figures are means since start; device figures cover the whole partition.
    w.single('wharf_flash_fsyncs_per_second', 'gauge', 'Durable flushes per second requested by the store, mean since start.', f.fsyncsPerSecond);
    if (f.processWrittenBytes !== null) {
      w.single('wharf_flash_process_written_bytes_total', 'counter', 'Bytes this process caused to be written to storage (/proc/self/io write_bytes) since start.', f.processWrittenBytes);
      w.single('wharf_flash_process_written_bytes_per_day', 'gauge', 'Bytes per day this process writes to storage (/proc/self/io), mean since start.', f.processBytesPerDay!);
    }
    if (f.deviceWrittenBytes !== null) {
      const dev = { device: f.device! };
      w.family('wharf_flash_device_written_bytes_total', 'counter', "Bytes written to the data directory's partition by all processes (sector counters) since start.", [[dev, f.deviceWrittenBytes]]);
      w.family('wharf_flash_device_written_bytes_per_day', 'gauge', "Bytes per day written to the data directory's partition (sector counters), mean since start.", [[dev, f.deviceBytesPerDay!]]);
      if (f.deviceWriteAmplification !== null) w.family('wharf_flash_device_write_amplification', 'gauge', "Bytes written to the data directory's partition per payload byte made durable.", [[dev, f.deviceWriteAmplification]]);
    }
  }

  w.single('wharf_log_write_errors_total', 'counter', 'Log lines that could not be written (stdout or stderr closed).', b.log.writeErrors);

  const p = b.process;
  w.single('wharf_heap_used_bytes', 'gauge', 'V8 heap in use.', p.heapUsedBytes);
  w.single('wharf_heap_total_bytes', 'gauge', 'V8 heap allocated.', p.heapTotalBytes);
  w.single('wharf_resident_memory_bytes', 'gauge', 'Resident set size of the process.', p.rssBytes);
  if (p.eventLoopLag !== null) {
    const lag = p.eventLoopLag;
    w.single('wharf_eventloop_lag_mean_seconds', 'gauge', 'Mean event-loop lag over the last sampling window.', lag.meanMs / 1000);
    w.single('wharf_eventloop_lag_p99_seconds', 'gauge', '99th percentile event-loop lag over the last sampling window.', lag.p99Ms / 1000);
    w.single('wharf_eventloop_lag_max_seconds', 'gauge', 'Longest event-loop lag in the last sampling window.', lag.maxMs / 1000);
  }

  const byQueue = (f: (q: QueueFigures) => number): [Labels, number][] => queues.map((q) => [{ queue: q.name }, f(q)]);
  w.family('wharf_queue_depth_messages', 'gauge', 'Messages stored and not yet acknowledged, in flight included.', byQueue((q) => q.depth));
  w.family('wharf_queue_depth_bytes', 'gauge', 'Payload bytes of the messages in depth.', byQueue((q) => q.depthBytes));
  w.family('wharf_queue_inflight_messages', 'gauge', 'Messages delivered and not yet acknowledged.', byQueue((q) => q.inflight));
  w.family('wharf_queue_consumers', 'gauge', 'Connected consumers.', byQueue((q) => q.consumers));
  w.family('wharf_queue_oldest_message_age_seconds', 'gauge', 'Age of the oldest unacknowledged message (consumer lag).', byQueue((q) => q.oldestAgeMs / 1000));
  for (const [key, name, help] of QUEUE_COUNTERS) w.family(name, 'counter', help, byQueue((q) => q.counters[key]));

  const byConsumer = (f: (c: ConsumerFigures) => number): [Labels, number][] =>
    consumers.flatMap(({ queue, figures }) => figures.map((c) => [{ queue, client: c.clientId }, f(c)] as [Labels, number]));
  w.family('wharf_consumer_inflight_messages', 'gauge', 'Messages in flight to this consumer.', byConsumer((c) => c.inflight));
  w.family('wharf_consumer_delivered_total', 'counter', 'Deliveries to this consumer since it connected.', byConsumer((c) => c.delivered));
  w.family('wharf_consumer_acknowledged_total', 'counter', 'Deliveries this consumer acknowledged since it connected.', byConsumer((c) => c.acknowledged));
  w.family('wharf_consumer_rejected_total', 'counter', 'Deliveries this consumer rejected or let time out since it connected.', byConsumer((c) => c.rejected));
  if (devices !== undefined) writeDeviceMetrics(w, devices.devices(), devices.buses());
  return w.text();
}
