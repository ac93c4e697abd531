// One durable queue: its backlog lives in the store; in memory only a bounded read-ahead window, the messages in
// flight and those waiting for redelivery. Dispatch hands messages to consumers within their inflight limits.

import type { Message } from '../protocol/message.js';
import { isExpired } from '../protocol/message.js';
import type { QueueMessage, ReplacedMessage } from '../store/types.js';
import type { QueueConsumer } from './consumer.js';
import { createStrategy } from './dispatch/index.js';
import type { QueueEngine } from './engine.js';
import { newQueueCounters, type QueueCounters } from './counters.js';
import { LastValues } from './last-values.js';
import { ReadyWindow } from './ready-window.js';
import type { DispatchStrategy, QueueDefinition } from './types.js';

/** Messages kept in memory ahead of dispatch; the rest of the backlog stays on disk. */
const READ_AHEAD = 256;
/** How far past a blocked message (hash_key: its key's consumer is busy) dispatch looks for another one. */
const HASH_SCAN = 64;

export type RejectReason = 'rejected' | 'ack_timeout' | 'consumer_lost';

/** A message of this queue held in memory (ready, in flight or waiting for redelivery). */
export interface HeldMessage {
  seq: number;
  message: Message;
  key: string | undefined;
  deliveryCount: number;
  enqueuedAt: number;
  bytes: number;
  /** Its payload is inside its store record (removing it needs no read to free a payload-store reference). */
  inline: boolean;
  /** Consumer of the last delivery: a redelivery prefers another one. */
  lastConsumer: string | undefined;
  /** Last-value queues: a newer message with the same key replaced this one (its record is gone). */
  superseded?: boolean;
  /** What the consumer said of its last rejection (a device's exception), kept with a dead letter. */
  lastError?: string;
}

/** How a message left the queue without being delivered and acknowledged; told to the queue's observer. */
export type Departure = 'superseded' | 'expired' | 'deadLettered' | 'dropped';

/**
 * Told when a message leaves the queue unconsumed (an in-process owner answers its sender: device command
 * receipts). A superseded message is told only when it was waiting, not while out for delivery: that one still
 * finishes its delivery.
 */
export type QueueObserver = (held: HeldMessage, why: Departure) => void;

export class Queue {
  readonly consumers: QueueConsumer<unknown>[] = [];
  readonly counters: QueueCounters = newQueueCounters();
  /** Messages stored and not yet removed (acknowledged, expired, dropped, dead-lettered). */
  depth = 0;
  depthBytes = 0;
  private strategy: DispatchStrategy;
  /** Ready messages in sequence order: a window of the backlog. */
  private readonly ready = new ReadyWindow();
  /** Highest sequence loaded into memory (or accounted for); the store is read after it. */
  private readCursor = 0;
  private inflightCount = 0;
  private delayed = 0;
  /** Last-value: replaced messages still in flight or waiting for redelivery (in inflightCount/delayed, not in depth). */
  private supersededHeld = 0;
  /** Oldest messages to drop when they come off the disk (drop_oldest while nothing was in memory). */
  private pendingEvictions = 0;
  private filling = false;
  private dispatchScheduled = false;
  private oldestOnDisk = 0;
  /** Last-value queues: the live message per key, and the keys out for delivery (a newer value waits for them). */
  private readonly lastValues: LastValues | null;
  /**
   * Removals of this turn (acknowledgements of one socket read, a retention sweep), handed to the store as one
   * operation at the end of the turn: one store operation and one promise per message cost more than the removal.
   */
  private removalSeqs: number[] = [];
  private removalInline: boolean[] = [];
  observer: QueueObserver | undefined;

  constructor(
    readonly id: number,
    public definition: QueueDefinition,
    readonly engine: QueueEngine,
  ) {
    this.strategy = createStrategy(definition.dispatch);
    const lastValue = definition.type === 'lastvalue';
    this.lastValues = lastValue ? new LastValues() : null;
  }

  /** Start-up: a key's live message found on disk. */
  restoreLastValue(key: string, seq: number, bytes: number, inline: boolean): void {
    this.lastValues?.set(key, { seq, bytes, inline, held: undefined });
  }

  /** The stored message a new value with this key replaces, if any (last-value queues). */
  lastValueOf(key: string | undefined): ReplacedMessage | undefined {
    return key === undefined ? undefined : this.lastValues?.replaced(key);
  }

  /**
   * Last-value queues: the stored message with this key is replaced (the store removes its record in the same
   * commit as the append). One in flight finishes its delivery but is not offered again.
   */
  private supersede(key: string): void {
    const prev = this.lastValues!.take(key);
    if (prev === undefined) return;
    this.depth--;
    this.depthBytes -= prev.bytes;
    this.counters.superseded++;
    const held = prev.held;
    if (held === undefined) return;
    held.superseded = true;
    if (this.ready.remove(held)) {
      this.observer?.(held, 'superseded');
      return;
    }
    // In flight or waiting for redelivery: it stays in memory until that ends, but no longer counts in depth.
    this.supersededHeld++;
  }

  private forgetLastValue(held: HeldMessage): void {
    this.lastValues?.forget(held);
  }

  get name(): string {
    return this.definition.name;
  }

  /** Messages in flight to consumers of this queue. */
  get inflight(): number {
    return this.inflightCount;
  }

  /** Messages waiting for their redelivery delay: in depth, neither ready nor in flight (admin purge skips them). */
  get waitingRedelivery(): number {
    return this.delayed;
  }

  /** Admin purge: reads the next part of the backlog into the window now, even while no consumer asks for it. */
  loadMore(): void {
    this.fillIfLow();
  }

  redefine(definition: QueueDefinition): void {
    if (definition.dispatch !== this.definition.dispatch) this.strategy = createStrategy(definition.dispatch);
    this.definition = definition;
    this.scheduleDispatch();
  }

  /** Age in ms of the oldest message not yet acknowledged (consumer lag); 0 when empty. */
  oldestAgeMs(now: number): number {
    if (this.depth === 0) return 0;
    // oldestOnDisk only stands for messages still unread on disk: once everything left is in flight, a stale value
    // would keep reporting a message that was acknowledged long ago.
    const unread = this.depth + this.pendingEvictions - this.inMemory() > 0;
    let oldest = this.ready.first()?.enqueuedAt ?? (unread ? this.oldestOnDisk : 0);
    for (const c of this.consumers) for (const held of c.inflightMessages()) if (held.enqueuedAt < oldest || oldest === 0) oldest = held.enqueuedAt;
    return oldest === 0 ? 0 : Math.max(0, now - oldest);
  }

  /** State found on disk at start-up. */
  restoreCounts(depth: number, bytes: number, oldestEnqueuedAt: number): void {
    this.depth = depth;
    this.depthBytes = bytes;
    this.oldestOnDisk = oldestEnqueuedAt;
  }

  /**
   * Admission, changing nothing: null when one more message of `bytes` fits (under drop_oldest: once the oldest
   * messages not out for delivery are evicted), else the limit it hits.
   */
  limitHit(bytes: number): 'maxMessages' | 'maxBytes' | null {
    const d = this.definition;
    const overMessages = d.maxMessages > 0 && this.depth + 1 > d.maxMessages;
    const overBytes = d.maxBytes > 0 && this.depthBytes + bytes > d.maxBytes;
    if (!overMessages && !overBytes) return null;
    const limit = overMessages ? 'maxMessages' : 'maxBytes';
    if (d.overflow === 'reject') return limit;
    // drop_oldest: a message larger than the whole limit never fits; otherwise there must be something to evict.
    if (d.maxBytes > 0 && bytes > d.maxBytes) return 'maxBytes';
    return this.hasEvictable() ? null : limit;
  }

  /** drop_oldest: evicts until one more message of `bytes` fits, never touching messages out for delivery. */
  makeRoom(bytes: number): void {
    const d = this.definition;
    if (d.overflow !== 'drop_oldest') return;
    let guard = this.depth;
    while (guard-- > 0 && ((d.maxMessages > 0 && this.depth + 1 > d.maxMessages) || (d.maxBytes > 0 && this.depthBytes + bytes > d.maxBytes))) {
      if (!this.evictOldest()) return;
    }
  }

  /** True when evictOldest() would find a message: ready in memory, or still only on disk. */
  private hasEvictable(): boolean {
    if (this.ready.length > 0) return true;
    if (this.lastValues !== null) return this.lastValues.anyOnDisk();
    return this.depth - (this.inflightCount + this.delayed - this.supersededHeld) - this.pendingEvictions > 0;
  }

  private evictOldest(): boolean {
    if (this.ready.length > 0) {
      const held = this.ready.take();
      this.remove(held, 'dropped');
      return true;
    }
    if (this.lastValues !== null) return this.evictOldestKeyOnDisk();
    const unread = this.depth - (this.inflightCount + this.delayed - this.supersededHeld) - this.pendingEvictions;
    if (unread <= 0) return false;
    // The oldest is still on disk: it is dropped as it is read, and stops counting now.
    this.pendingEvictions++;
    this.depth--;
    this.counters.dropped++;
    return true;
  }

  /**
   * Last-value: drops the oldest message still on disk. The live message of every key is known, in append order
   * (a replaced key moves to the end), so it goes at once, by its sequence.
   */
  private evictOldestKeyOnDisk(): boolean {
    const lv = this.lastValues!.takeOldestOnDisk();
    if (lv === undefined) return false;
    this.depth--;
    this.depthBytes -= lv.bytes;
    this.counters.dropped++;
    this.engine.store.removeQueueMessage(this.id, lv.seq, lv.inline).catch((err) => this.engine.storeFailed('queue drop', err));
    return true;
  }

  /** A message was appended to the store with sequence `seq`. */
  appended(seq: number, message: Message, key: string | undefined, bytes: number, enqueuedAt: number, inline: boolean): void {
    // Caught up: nothing of the backlog is left unread on disk, so the new message can join the window directly.
    const caughtUp = !this.filling && this.depth + this.pendingEvictions === this.inMemory();
    if (this.lastValues !== null && key !== undefined) this.supersede(key);
    this.depth++;
    this.depthBytes += bytes;
    this.counters.enqueued++;
    if (this.depth === 1) this.oldestOnDisk = enqueuedAt;
    let held: HeldMessage | undefined;
    if (caughtUp && this.ready.length < READ_AHEAD) {
      held = { seq, message, key, deliveryCount: 0, enqueuedAt, bytes, inline, lastConsumer: undefined };
      this.ready.push(held);
      this.readCursor = seq;
    }
    if (this.lastValues !== null && key !== undefined) this.lastValues.set(key, { seq, bytes, inline, held });
    this.scheduleDispatch();
  }

  /** Messages of `depth` held in memory (a replaced message still out for delivery is not one of them). */
  private inMemory(): number {
    return this.ready.length + this.inflightCount + this.delayed - this.supersededHeld;
  }

  scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    // After the current packet batch, not a loop turn later: a worker's next job follows its PUBACK closely,
    // and all acknowledgements of one read are still dispatched together.
    process.nextTick(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /** Offers ready messages to consumers with room, as the dispatch strategy chooses. */
  dispatch(): void {
    const now = Date.now();
    let blocked = 0;
    const ready = this.ready;
    let i = ready.start();
    while (i < ready.end() && this.consumers.length > 0) {
      const held = ready.at(i);
      if (isExpired(held.message, now)) {
        i = ready.removeAt(i);
        this.remove(held, 'expired');
        continue;
      }
      // Last-value: a newer value of a key out for delivery waits until that delivery is settled.
      const keyBusy = this.lastValues !== null && held.key !== undefined && this.lastValues.keyInFlight(held.key);
      const consumer = keyBusy ? undefined : this.choose(held);
      if (consumer === undefined) {
        // hash_key keeps a key on its consumer: look past a blocked key, a bounded distance.
        if ((!keyBusy && this.definition.dispatch !== 'hash_key') || ++blocked > HASH_SCAN || !this.anyRoom()) break;
        i++;
        continue;
      }
      i = ready.removeAt(i);
      consumer.deliver(held);
    }
    // A last-value queue without consumers reads nothing ahead: its backlog keeps being replaced, and what the
    // window read would only be dropped again (eviction finds the oldest key without it; expiry reads for itself).
    if (this.consumers.length > 0 || this.lastValues === null) this.fillIfLow();
  }

  private anyRoom(): boolean {
    for (const c of this.consumers) if (c.hasRoom()) return true;
    return false;
  }

  private choose(held: HeldMessage): QueueConsumer<unknown> | undefined {
    // A redelivered message goes to another consumer when one has room [DESIGN "Queues"].
    if (held.lastConsumer !== undefined && this.definition.dispatch !== 'hash_key') {
      let best: QueueConsumer<unknown> | undefined;
      for (const c of this.consumers) if (c.id !== held.lastConsumer && c.hasRoom() && (best === undefined || c.inflight < best.inflight)) best = c;
      if (best !== undefined) return best;
    }
    return this.strategy.pick(this.consumers, held.key) as QueueConsumer<unknown> | undefined;
  }

  /** Reads the next part of the backlog from the store when the window runs low. */
  private fillIfLow(): void {
    if (this.filling || this.ready.length >= READ_AHEAD / 2) return;
    const unread = this.depth + this.pendingEvictions - this.inMemory();
    if (unread <= 0) return;
    this.filling = true;
    const store = this.engine.store;
    store.readQueueMessages(this.id, { afterSeq: this.readCursor, limit: READ_AHEAD - this.ready.length }).then(
      (batch) => this.filled(batch),
      (err) => {
        this.filling = false;
        this.engine.log.error('queue read failed', { queue: this.name, error: (err as Error).message });
      },
    );
  }

  private filled(batch: QueueMessage[]): void {
    this.filling = false;
    if (this.engine.queueById(this.id) !== this) return; // deleted meanwhile
    for (const m of batch) {
      if (m.seq <= this.readCursor) continue;
      this.readCursor = m.seq;
      // Last-value: a record read before the commit that replaced it (its key now has a newer live message) is
      // gone already; it was never counted in depth since.
      if (this.lastValues !== null && m.key !== undefined && !this.lastValues.isLive(m.key, m.seq)) continue;
      const held: HeldMessage = {
        seq: m.seq,
        message: m.message,
        key: m.key ?? (this.definition.dispatch === 'hash_key' ? this.engine.keyFor(this, m.message) : undefined),
        deliveryCount: m.deliveryCount,
        enqueuedAt: m.enqueuedAt,
        bytes: m.message.payload.length,
        inline: m.inline,
        lastConsumer: undefined,
      };
      if (this.pendingEvictions > 0) {
        this.pendingEvictions--;
        this.depthBytes -= held.bytes;
        this.forgetLastValue(held);
        this.engine.store.removeQueueMessage(this.id, held.seq, held.inline).catch((err) => this.engine.storeFailed('queue drop', err));
        continue;
      }
      const lv = held.key === undefined ? undefined : this.lastValues?.get(held.key);
      if (lv !== undefined && lv.seq === held.seq) lv.held = held;
      this.ready.push(held);
    }
    const first = this.ready.first();
    if (first !== undefined) this.oldestOnDisk = first.enqueuedAt;
    if (batch.length === 0) {
      // Appended but not committed yet: look again after the next commit window.
      setTimeout(() => this.scheduleDispatch(), 10).unref();
      return;
    }
    this.scheduleDispatch();
  }

  /** Consumer bookkeeping, called by QueueConsumer. */
  deliveryStarted(held: HeldMessage): void {
    this.inflightCount++;
    this.counters.delivered++;
    if (this.lastValues !== null && held.key !== undefined) this.lastValues.deliveryStarted(held.key);
  }

  private deliveryEnded(held: HeldMessage): void {
    this.inflightCount--;
    if (held.superseded) this.supersededHeld--;
    if (this.lastValues !== null && held.key !== undefined && this.lastValues.deliveryEnded(held.key)) this.scheduleDispatch();
  }

  /** The consumer acknowledged (PUBACK < 0x80) or the delivery was at QoS 0: the message is done. */
  acknowledged(held: HeldMessage): void {
    this.deliveryEnded(held);
    this.counters.acknowledged++;
    // A superseded message's record went with its replacement; it no longer counts.
    if (!held.superseded) this.remove(held, undefined);
    this.scheduleDispatch();
  }

  /** A delivery failed: rejected (PUBACK >= 0x80), timed out, or its consumer went away. */
  failed(held: HeldMessage, consumerId: string, reason: RejectReason, detail?: string): void {
    this.deliveryEnded(held);
    if (detail !== undefined) held.lastError = detail;
    // A rejection does not bring back a value that a newer one replaced.
    if (held.superseded) return;
    // A broker shutdown is not the consumer's failure: nothing is counted or written.
    if (reason === 'consumer_lost' && this.engine.stopping) {
      this.ready.requeue(held);
      return;
    }
    held.deliveryCount++;
    held.lastConsumer = consumerId;
    if (reason === 'rejected') this.counters.rejected++;
    else if (reason === 'ack_timeout') this.counters.ackTimeouts++;
    const d = this.definition;
    if (d.maxDeliveries > 0 && held.deliveryCount >= d.maxDeliveries) {
      this.engine.deadLetter(this, held, reason);
      this.remove(held, 'deadLettered');
      this.scheduleDispatch();
      return;
    }
    this.counters.redelivered++;
    this.engine.store.setQueueDeliveryCount(this.id, held.seq, held.deliveryCount).catch((err) => this.engine.storeFailed('delivery count', err));
    // A lost consumer's messages are offered again at once; a rejection waits redeliveryDelay.
    const delay = reason === 'consumer_lost' ? 0 : d.redeliveryDelayMs;
    if (delay === 0) {
      this.ready.requeue(held);
      this.scheduleDispatch();
      return;
    }
    this.delayed++;
    setTimeout(() => {
      this.delayed--;
      if (held.superseded) {
        this.supersededHeld--;
        this.observer?.(held, 'superseded');
      }
      if (this.engine.queueById(this.id) !== this || held.superseded) return;
      this.ready.requeue(held);
      this.scheduleDispatch();
    }, delay).unref();
  }

  /** Removes a message for good; `why` names the counter (acknowledged ones are counted by the caller). */
  private remove(held: HeldMessage, why: 'expired' | 'dropped' | 'deadLettered' | undefined): void {
    this.forgetLastValue(held);
    this.depth--;
    this.depthBytes -= held.bytes;
    if (why !== undefined) {
      this.counters[why]++;
      this.observer?.(held, why);
    }
    if (this.removalSeqs.length === 0) process.nextTick(this.flushRemovals);
    this.removalSeqs.push(held.seq);
    this.removalInline.push(held.inline);
  }

  /** Before the turn's commit window closes (it starts on setImmediate): the removals join the same window as before. */
  private readonly flushRemovals = (): void => {
    const seqs = this.removalSeqs;
    const inline = this.removalInline;
    this.removalSeqs = [];
    this.removalInline = [];
    this.engine.store.removeQueueMessages(this.id, seqs, inline).catch((err) => this.engine.storeFailed('queue remove', err));
  };

  /** Retention: messages older than `retentionMs` are expired, oldest first, a bounded number per sweep. */
  expireOld(now: number): void {
    const retention = this.definition.retentionMs;
    if (retention <= 0) return;
    const cutoff = now - retention;
    let n = 0;
    while ((this.ready.first()?.enqueuedAt ?? Infinity) <= cutoff && n++ < 10_000) this.remove(this.ready.take(), 'expired');
    if (this.ready.length === 0) this.fillIfLow();
  }

  /** Drops everything not in flight (purge) or everything (delete); returns how many messages were removed. */
  clearReady(): number {
    let n = 0;
    while (this.ready.length > 0) {
      this.remove(this.ready.take(), 'dropped');
      n++;
    }
    return n;
  }

  addConsumer(consumer: QueueConsumer<unknown>): void {
    this.consumers.push(consumer);
    this.scheduleDispatch();
  }

  removeConsumer(consumer: QueueConsumer<unknown>): void {
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
    this.strategy.removed(consumer.id);
  }
}
