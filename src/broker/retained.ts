// Retained messages: the last retained PUBLISH per topic, handed to new subscriptions (MQTT 5.0 section 3.3.1.3).

import type { Message } from './message.js';
import { isExpired } from './message.js';
import { hasWildcard, topicMatches } from '../protocol/topic.js';

export class RetainedStore {
  private readonly byTopic = new Map<string, Message>();

  constructor(private readonly maxMessages: number) {}

  get size(): number {
    return this.byTopic.size;
  }

  /**
   * Stores or, for an empty payload, clears the retained message of a topic [MQTT-3.3.1-6] [MQTT-3.3.1-7].
   * Returns false when the store is full and the topic was not already retained.
   */
  set(msg: Message): boolean {
    if (msg.payload.length === 0) {
      this.byTopic.delete(msg.topic);
      return true;
    }
    if (!this.byTopic.has(msg.topic) && this.byTopic.size >= this.maxMessages && !this.evictExpired()) return false;
    this.byTopic.set(msg.topic, msg);
    return true;
  }

  private lastSweep = 0;

  /** When full: drops expired messages (at most one sweep a second); true if that made room. */
  private evictExpired(): boolean {
    const now = Date.now();
    if (now - this.lastSweep < 1000) return false;
    this.lastSweep = now;
    for (const [topic, m] of this.byTopic) if (isExpired(m, now)) this.byTopic.delete(topic);
    return this.byTopic.size < this.maxMessages;
  }

  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  delete(topic: string): boolean {
    return this.byTopic.delete(topic);
  }

  /** Retained messages matching a filter, dropping expired ones on the way [MQTT-3.3.2-5]. */
  match(filter: string, now: number): Message[] {
    if (!hasWildcard(filter)) {
      const m = this.byTopic.get(filter);
      if (!m) return [];
      if (isExpired(m, now)) {
        this.byTopic.delete(filter);
        return [];
      }
      return [m];
    }
    const out: Message[] = [];
    for (const [topic, m] of this.byTopic) {
      if (!topicMatches(filter, topic)) continue;
      if (isExpired(m, now)) this.byTopic.delete(topic);
      else out.push(m);
    }
    return out;
  }

  all(): IterableIterator<Message> {
    return this.byTopic.values();
  }
}
