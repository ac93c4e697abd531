// $SYS/ topics, published every sys.interval: the broker figures under Mosquitto's names and one JSON document
// per queue under $SYS/wharf/queues/<name>. Retained, like Mosquitto's, so a new subscriber sees them at once,
// but kept in memory only: rewriting them on disk every interval would wear the flash for nothing.

import type { Broker } from '../broker/broker.js';
import type { Message } from '../protocol/message.js';
import { total } from '../broker/stats.js';
import type { BrokerMonitor } from './monitor.js';
import type { BrokerFigures } from './figures.js';

export const SYS_QUEUE_PREFIX = '$SYS/wharf/queues/';


/** Topic → payload text for the broker-wide figures. */
export function brokerSysTopics(f: BrokerFigures): [string, string][] {
  const m = f.messages;
  const out: [string, string][] = [
    ['$SYS/broker/version', `wharf ${f.version}`],
    ['$SYS/broker/uptime', `${f.uptimeSeconds} seconds`],
    ['$SYS/broker/clients/connected', String(f.sessionsConnected)],
    ['$SYS/broker/clients/disconnected', String(f.sessions - f.sessionsConnected)],
    ['$SYS/broker/clients/total', String(f.sessions)],
    ['$SYS/broker/subscriptions/count', String(f.subscriptions)],
    ['$SYS/broker/retained messages/count', String(f.retained)],
    // Wharf counts PUBLISH packets; Mosquitto's messages/* count every packet type.
    ['$SYS/broker/messages/received', String(total(m.received))],
    ['$SYS/broker/messages/sent', String(total(m.sent))],
    ['$SYS/broker/publish/messages/received', String(total(m.received))],
    ['$SYS/broker/publish/messages/sent', String(total(m.sent))],
    ['$SYS/broker/publish/messages/dropped', String(m.dropped)],
    ['$SYS/broker/bytes/received', String(total(m.receivedBytes))],
    ['$SYS/broker/bytes/sent', String(total(m.sentBytes))],
    ['$SYS/broker/heap/current', String(f.process.heapUsedBytes)],
    ['$SYS/wharf/queues/count', String(f.queues)],
    ['$SYS/wharf/auth/logins/failed', String(f.auth.loginsFailed)],
    ['$SYS/wharf/auth/publish/denied', String(f.auth.publishDenied)],
    ['$SYS/wharf/auth/subscribe/denied', String(f.auth.subscribeDenied)],
  ];
  if (f.rates !== null) {
    out.push(['$SYS/wharf/messages/received/per-second', f.rates.receivedPerSec.toFixed(1)]);
    out.push(['$SYS/wharf/messages/sent/per-second', f.rates.sentPerSec.toFixed(1)]);
  }
  if (f.store !== null) {
    const s = f.store;
    out.push(['$SYS/wharf/store', JSON.stringify({ commits: s.commits, syncs: s.syncs, bytesWritten: s.bytesWritten, writeAmplification: s.writeAmplification, commitLatencyMs: s.commitLatencyMs, pendingBytes: s.pendingBytes, usedBytes: s.usedBytes, capacityBytes: s.capacityBytes, full: s.full, payloads: s.payloads })]);
  }
  return out;
}

export class SysPublisher {
  private timer: NodeJS.Timeout | null = null;
  /** Queue topics published last time: a queue that is gone gets its retained topic cleared. */
  private queueTopics = new Set<string>();

  constructor(
    private readonly broker: Broker,
    private readonly monitor: BrokerMonitor,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer !== null) return;
    this.publishAll();
    this.timer = setInterval(() => this.publishAll(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  publishAll(now = Date.now()): void {
    for (const [topic, text] of brokerSysTopics(this.monitor.brokerFigures(now))) this.publish(topic, text);
    const seen = new Set<string>();
    for (const queue of this.monitor.queues()) {
      const topic = SYS_QUEUE_PREFIX + queue.name;
      seen.add(topic);
      this.publish(topic, JSON.stringify(this.monitor.queueFigures(queue, now)));
    }
    for (const topic of this.queueTopics) if (!seen.has(topic)) this.publish(topic, '');
    this.queueTopics = seen;
  }

  /** Routes to live subscribers and keeps it retained (an empty payload clears it), bypassing store and queues. */
  private publish(topic: string, text: string): void {
    const msg: Message = { topic, payload: Buffer.from(text), qos: 0, retain: true, properties: undefined, expiresAt: 0, origin: '' };
    this.broker.retained.set(msg);
    this.broker.router.route(msg);
  }
}
