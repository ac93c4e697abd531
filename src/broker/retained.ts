// Retained messages: the last retained PUBLISH per topic, handed to new subscriptions (MQTT 5.0 section 3.3.1.3).

import type { Message } from '../protocol/message.js';
import { isExpired } from '../protocol/message.js';
import { hasWildcard, topicMatches } from '../protocol/topic.js';

/** Topics starting with "$" (the broker's own, such as $SYS/) are not matched by "#" [MQTT-4.7.2-1]. */
const isSystemTopic = (topic: string): boolean => topic.charCodeAt(0) === 0x24;

export class RetainedStore {
  private readonly byTopic = new Map<string, Message>();
  private systemCount = 0;

  /** Told of every message dropped because it expired, so the durable copy goes too. */
  onExpired: ((topic: string) => void) | null = null;

  constructor(private readonly maxMessages: number) {}

  /** Every retained topic, the broker's own $ topics included (what counts towards maxRetainedMessages). */
  get size(): number {
    return this.byTopic.size;
  }

  /** Retained messages of clients: what "#" lists (`wharf retained`), without the broker's $SYS topics. */
  get clientCount(): number {
    return this.byTopic.size - this.systemCount;
  }

  /** Retained $ topics ($SYS/...), counted apart from the clients' messages. */
  get systemTopicCount(): number {
    return this.systemCount;
  }

  /**
   * Stores or, for an empty payload, clears the retained message of a topic [MQTT-3.3.1-6] [MQTT-3.3.1-7].
   * Returns false when the store is full and the topic was not already retained.
   */
  set(msg: Message): boolean {
    if (msg.payload.length === 0) {
      this.delete(msg.topic);
      return true;
    }
    const known = this.byTopic.has(msg.topic);
    if (!known && this.byTopic.size >= this.maxMessages && !this.evictExpired()) return false;
    this.byTopic.set(msg.topic, msg);
    if (!known && isSystemTopic(msg.topic)) this.systemCount++;
    return true;
  }

  private lastSweep = 0;

  /** When full: drops expired messages (at most one sweep a second); true if that made room. */
  private evictExpired(): boolean {
    const now = Date.now();
    if (now - this.lastSweep < 1000) return false;
    this.lastSweep = now;
    for (const [topic, m] of this.byTopic) if (isExpired(m, now)) this.expire(topic);
    return this.byTopic.size < this.maxMessages;
  }

  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  delete(topic: string): boolean {
    const deleted = this.byTopic.delete(topic);
    if (deleted && isSystemTopic(topic)) this.systemCount--;
    return deleted;
  }

  /** Retained messages matching a filter, dropping expired ones on the way [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Message[] {
    if (!hasWildcard(filter)) {
      const m = this.byTopic.get(filter);
      if (!m) return [];
      if (isExpired(m, now)) {
        this.expire(filter);
        return [];
      }
      return [m];
    }
    const out: Message[] = [];
    for (const [topic, m] of this.byTopic) {
      if (!topicMatches(filter, topic)) continue;
      if (isExpired(m, now)) this.expire(topic);
      else out.push(m);
    }
    return out;
  }

  private expire(topic: string): void {
    this.delete(topic);
    this.onExpired?.(topic);
  }

  all(): IterableIterator<Message> {
    return this.byTopic.values();
  }
}
