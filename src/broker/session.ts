// A client's session (MQTT 5.0 section 4.1): subscriptions, outgoing QoS 1/2 state and the messages queued for it,
// which outlive the network connection while the session has not expired.

import type { SessionAcl } from '../auth/session-acl.js';
import type { QoS } from 'mqtt-packet';
import type { Message } from '../protocol/message.js';
import { isExpired } from '../protocol/message.js';
import type { Subscription } from './subscription.js';
import { OutgoingQueue } from './outgoing-queue.js';

/** A message on its way to this session's client. */
export interface Outgoing {
  msg: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIds: number[] | undefined;
  packetId: number;
  /** QoS 2 only: PUBREC received, PUBREL sent, waiting for PUBCOMP. */
  released: boolean;
  /** Position in the durable store when the session is persistent; 0 when not stored. */
  seq: number;
  /** Stored with its payload inside its record (set with `seq`): removing it needs no read of the record. */
  inline?: boolean;
  /** Set for a delivery from a durable queue: the queue, not the session, decides what happens on PUBACK. */
  owner?: DeliveryOwner;
}

/** Who settles a queue delivery: PUBACK reason code < 0x80 acknowledges, >= 0x80 rejects. */
export interface DeliveryOwner {
  settleOutgoing(out: Outgoing, reasonCode: number): void;
}

/** Durability of a persistent session's QoS 1/2 messages (implemented by the broker's persistence). */
export interface SessionHooks {
  /** A QoS 1/2 message was accepted for this session (queued, or sent at once with its packet id); false if refused. */
  stored(session: Session, out: Outgoing): boolean;
  /** A queued message was sent and got its packet identifier. */
  sent(session: Session, out: Outgoing): void;
  /** PUBREC received for a QoS 2 message. */
  released(session: Session, out: Outgoing): void;
  /** The message is finished with: acknowledged, expired or discarded. */
  done(session: Session, out: Outgoing): void;
  /**
   * The session's stored messages after sequence `afterSeq`, at most `limit`, in order (the part of its queue not
   * kept in memory); null when the store could not be read (logged).
   */
  readStored(session: Session, afterSeq: number, limit: number): Promise<StoredPage | null>;
}

/** Messages read back from the store; `complete`: nothing was waiting for a commit, so none written before is missing. */
export interface StoredPage {
  messages: Outgoing[];
  complete: boolean;
}

/**
 * Unacknowledged QoS 1/2 deliveries per session at most, whatever the client's Receive Maximum (65535 for every
 * MQTT 3.1.1 client, which has none): each holds its message in memory until PUBACK/PUBCOMP, so a backlog drained
 * to a client that reads faster than it acknowledges would otherwise be in memory whole again (issue 13: 30,000
 * in flight, 50 MB of heap, draining 100,000 messages). As many as the broker's own default Receive Maximum.
 */
export const MAX_INFLIGHT = 1024;

/** After a read found nothing yet (the records wait for their commit), the next one waits this long. */
const REREAD_MS = 10;
/** After a failed read. */
const REREAD_FAILED_MS = 1000;

/** What a session needs from the connection currently attached to it. */
export interface SessionLink {
  /** Client's Receive Maximum: QoS 1/2 publishes it accepts unacknowledged [MQTT-3.3.4-9]. */
  readonly clientReceiveMaximum: number;
  sendPublish(out: Outgoing, dup: boolean): void;
  sendPubrel(packetId: number): void;
  /** False while the socket's buffer is over its bound: QoS 0 messages are then dropped. */
  writable(): boolean;
}

export interface SessionCounters {
  dropped: number;
  /** QoS 1/2 messages refused because a session's queue was at mqtt.maxQueuedMessages. */
  queueFull: number;
  /** Queued QoS 1/2 messages dropped unsent: the session's client may not read their topic (auth.aclFile). */
  deliveriesWithheld: number;
}

export class Session {
  link: SessionLink | null = null;
  /** The client's ACL rules and decision cache (src/auth/session-acl.ts); null when no ACL file is configured. */
  acl: SessionAcl | null = null;
  /**
   * The user the session belongs to (kept with a persistent session): the authenticated user name, null for an
   * anonymous client, undefined when not known (restored from a record written before owners were recorded).
   */
  username: string | null | undefined = undefined;
  readonly subscriptions = new Map<string, Subscription>();
  /** Outgoing QoS 1/2 messages sent and not yet completed, by packet identifier. */
  readonly inflight = new Map<number, Outgoing>();
  /**
   * Messages waiting for a free inflight slot or for the client to come back; for a persistent session only a
   * bounded head of them is in memory, the rest are in the store (read back as the head drains).
   */
  readonly pending = new OutgoingQueue();
  /** Incoming QoS 2 packet identifiers whose PUBREL has not arrived yet (delivered on PUBLISH, "method B"). */
  readonly incomingQos2 = new Set<number>();
  expiryInterval = 0;
  /** Protocol level of the client's last CONNECT (kept with a persistent session). */
  protocolVersion: 3 | 4 | 5 = 5;
  /** Set while the session is persistent and the broker has a store. */
  hooks: SessionHooks | null = null;
  expiryTimer: NodeJS.Timeout | null = null;
  willTimer: NodeJS.Timeout | null = null;
  private nextPacketId = 1;
  /** Set while drain() or resume() sends: a send that completes at once (expired, too large) must not re-enter. */
  private draining = false;
  /**
   * Inflight entries not yet resent on the current connection because of its Receive Maximum [MQTT-3.3.4-9]:
   * they keep their packet identifier and go out with DUP as slots free up [MQTT-4.4.0-1].
   */
  private unsent: Outgoing[] = [];

  constructor(
    readonly clientId: string,
    private readonly maxQueued: number,
    private readonly counters: SessionCounters,
  ) {}

  get connected(): boolean {
    return this.link !== null;
  }

  /** Hands a message to this session at the given (already downgraded) QoS. */
  deliver(msg: Message, qos: QoS, retain: boolean, subscriptionIds: number[] | undefined): void {
    const link = this.link;
    if (qos === 0) {
      // QoS 0 is never queued for an offline client, and dropped rather than buffered without bound.
      if (link === null || !link.writable()) {
        this.counters.dropped++;
        return;
      }
      link.sendPublish({ msg, qos, retain, subscriptionIds, packetId: 0, released: false, seq: 0 }, false);
      return;
    }
    const out: Outgoing = { msg, qos, retain, subscriptionIds, packetId: 0, released: false, seq: 0 };
    const sendNow = link !== null && this.pending.length === 0 && this.unsent.length === 0 && this.inflight.size < inflightLimit(link);
    if (!sendNow && this.pending.length >= this.maxQueued) {
      this.counters.dropped++;
      this.counters.queueFull++;
      return;
    }
    // The packet identifier is chosen before the message is stored, so the stored record carries it.
    if (sendNow) out.packetId = this.allocatePacketId();
    if (this.hooks !== null && !this.hooks.stored(this, out)) {
      this.counters.dropped++;
      return;
    }
    if (sendNow) {
      this.inflight.set(out.packetId, out);
      link.sendPublish(out, false);
    } else {
      this.pending.push(out, this.hooks !== null);
    }
  }

  /**
   * Admission: false when a QoS 1/2 message would be refused because this session's queue is at its limit
   * (deliver() would drop it). Sent at once, or QoS 0, it is always taken.
   */
  canTake(qos: QoS): boolean {
    return qos === 0 || this.pending.length < this.maxQueued || this.sendsNow();
  }

  /**
   * A QoS 1/2 message delivered now would go out at once rather than wait in this session's queue: connected,
   * nothing queued ahead of it, and an inflight slot free (the client's Receive Maximum, at most MAX_INFLIGHT).
   */
  sendsNow(): boolean {
    const link = this.link;
    return link !== null && this.pending.length === 0 && this.unsent.length === 0 && this.inflight.size < inflightLimit(link);
  }

  /** PUBACK, or PUBREC with a failure code, or PUBCOMP: the slot is free again. */
  complete(packetId: number, reasonCode = 0): boolean {
    const done = this.inflight.get(packetId);
    if (done === undefined) return false;
    this.inflight.delete(packetId);
    if (this.unsent.length > 0 && this.unsent.includes(done)) this.unsent = this.unsent.filter((o) => o !== done);
    if (done.owner !== undefined) done.owner.settleOutgoing(done, reasonCode);
    else this.hooks?.done(this, done);
    this.drain();
    this.onSlotFreed?.();
    return true;
  }

  /** Called when an inflight slot frees up, so queues with this session as consumer can dispatch again. */
  onSlotFreed: (() => void) | null = null;

  /** Room for one more QoS 1 delivery now (connected, under the client's Receive Maximum, socket not backed up). */
  canTakeDelivery(): boolean {
    const link = this.link;
    return link !== null && this.pending.length === 0 && this.inflight.size < inflightLimit(link) && link.writable();
  }

  /** A queue delivery: a packet identifier and an inflight slot for `out` (the owner records it before the send). */
  assignInflight(out: Outgoing): number {
    out.packetId = this.allocatePacketId();
    this.inflight.set(out.packetId, out);
    return out.packetId;
  }

  /** PUBREC with success: the message is the client's now; PUBREL follows. */
  release(packetId: number): boolean {
    const out = this.inflight.get(packetId);
    if (out === undefined || out.qos !== 2) return false;
    out.released = true;
    this.hooks?.released(this, out);
    this.link?.sendPubrel(packetId);
    return true;
  }

  /** Sends queued messages while the client has inflight room. */
  drain(): void {
    const link = this.link;
    // Re-entered through complete() when a send is discarded at once: the running loop goes on by itself.
    if (link === null || (this.pending.length === 0 && this.unsent.length === 0) || this.draining) return;
    const pending = this.pending;
    this.draining = true;
    const now = Date.now();
    const limit = inflightLimit(link);
    try {
      // First the unacknowledged deliveries held back at resume, with their identifiers and DUP.
      while (this.unsent.length > 0 && this.inflight.size - this.unsent.length < limit && this.link === link) {
        link.sendPublish(this.unsent.shift()!, true);
      }
      while (this.unsent.length === 0 && pending.inMemory > 0 && this.inflight.size < limit) {
        const out = pending.shift()!;
        if (isExpired(out.msg, now)) {
          this.hooks?.done(this, out);
          continue;
        }
        // Queued before a restart, a reload or a reconnect under other rules: checked again against the rules
        // of the client it now goes to (README, Security).
        if (this.acl !== null && !this.acl.canRead(out.msg.topic)) {
          this.withhold(out);
          continue;
        }
        this.sendNew(link, out);
        if (this.link !== link) break; // the send closed the connection
        // A backlog goes out as the socket takes it, not all into its buffer at once (memory): the PUBACK of one
        // in flight calls drain() again.
        if (!link.writable() && this.inflight.size > 0) break;
      }
    } finally {
      this.draining = false;
    }
    if (pending.wantsRead() && this.link === link) this.readStored();
  }

  /** Reads the next page of the messages kept in the store alone into the head (in sequence order). */
  private readStored(): void {
    const hooks = this.hooks;
    const pending = this.pending;
    if (hooks === null) return;
    pending.reading = true;
    const generation = pending.generation;
    // Messages counted as stored when the read starts: if a read that misses nothing finds none, they are not there.
    const counted = pending.onDisk;
    hooks.readStored(this, pending.readCursor, pending.readLimit()).then((page) => this.storedRead(page, generation, counted));
  }

  private storedRead(page: StoredPage | null, generation: number, counted: number): void {
    const pending = this.pending;
    if (pending.generation !== generation) return; // the session ended or started over meanwhile
    pending.reading = false;
    if (page === null) {
      this.rereadLater(REREAD_FAILED_MS, generation);
      return;
    }
    for (const out of page.messages) {
      if (out.seq <= pending.readCursor) continue;
      // Restored in flight at start-up (with its packet identifier): it is not waiting any more.
      if (out.packetId > 0 && this.inflight.get(out.packetId)?.seq === out.seq) {
        pending.passOver(out.seq);
        continue;
      }
      out.packetId = 0;
      out.released = false;
      pending.readBack(out);
    }
    if (page.messages.length === 0 && pending.onDisk > 0) {
      if (!page.complete) {
        // Appended, but not committed yet: reads see committed records only.
        this.rereadLater(REREAD_MS, generation);
        return;
      }
      // Everything written before the read was committed, and none of the counted messages is there: their writes
      // failed (the publisher heard of it), so they are not waiting any more. Those counted since wait for their
      // commit: read again later, never in a loop of reads that would keep the commit from running.
      const lost = pending.forget(counted);
      this.counters.dropped += lost;
      if (lost === 0 || pending.onDisk > 0) {
        this.rereadLater(REREAD_MS, generation);
        return;
      }
    }
    this.drain();
  }

  private rereadLater(ms: number, generation: number): void {
    setTimeout(() => {
      if (this.pending.generation === generation) this.drain();
    }, ms).unref();
  }

  /**
   * After a reconnect with a present session: resend unacknowledged PUBLISH with DUP and PUBREL
   * [MQTT-4.4.0-1], then queued messages. Beyond the new Receive Maximum, the rest wait in `unsent`.
   */
  resume(link: SessionLink): void {
    this.link = link;
    const limit = inflightLimit(link);
    let sent = 0;
    this.unsent = [];
    // No draining while iterating: a queued message sent meanwhile would join the map and be resent as DUP.
    this.draining = true;
    try {
      for (const out of this.inflight.values()) {
        if (out.released) {
          link.sendPubrel(out.packetId);
          sent++;
        } else if (out.owner === undefined && this.acl !== null && !this.acl.canRead(out.msg.topic)) {
          // Sent once but never acknowledged, and the client now attached may not read it: not resent.
          this.inflight.delete(out.packetId);
          this.withhold(out);
        } else if (sent < limit) {
          link.sendPublish(out, true);
          sent++;
        } else {
          this.unsent.push(out);
        }
      }
    } finally {
      this.draining = false;
    }
    this.drain();
  }

  detach(): void {
    this.link = null;
  }

  /** A queued message the client may not read: finished with unsent, counted. */
  private withhold(out: Outgoing): void {
    this.counters.deliveriesWithheld++;
    this.hooks?.done(this, out);
  }

  private sendNew(link: SessionLink, out: Outgoing): void {
    out.packetId = this.allocatePacketId();
    this.inflight.set(out.packetId, out);
    this.hooks?.sent(this, out);
    link.sendPublish(out, false);
  }

  /**
   * Puts back a message read from the store at start-up, in sequence order: with its packet identifier it was in
   * flight and is resent with DUP on reconnect; without one it waits in the queue (beyond the in-memory head of a
   * persistent session, in the store only: it is read again when its turn comes). Nothing is written back.
   */
  restoreOutgoing(out: Outgoing): void {
    if (out.packetId > 0 && !this.inflight.has(out.packetId)) this.inflight.set(out.packetId, out);
    else {
      out.packetId = 0;
      out.released = false;
      this.pending.push(out, this.hooks !== null);
    }
  }

  /** A packet identifier not in use by another outgoing QoS 1/2 exchange [MQTT-2.2.1-3]. */
  private allocatePacketId(): number {
    let id = this.nextPacketId;
    while (this.inflight.has(id)) id = id === 65535 ? 1 : id + 1;
    this.nextPacketId = id === 65535 ? 1 : id + 1;
    return id;
  }
}

/** How many QoS 1/2 deliveries may be unacknowledged on this link [MQTT-3.3.4-9], and at most MAX_INFLIGHT. */
function inflightLimit(link: SessionLink): number {
  return link.clientReceiveMaximum < MAX_INFLIGHT ? link.clientReceiveMaximum : MAX_INFLIGHT;
}
