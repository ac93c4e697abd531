// Routing of one application message to live subscriptions: the trie lookup, per-session de-duplication of
// overlapping subscriptions, and one member per shared-subscription group.

import type { QoS } from 'mqtt-packet';
import type { Message } from '../protocol/message.js';
import type { Session } from './session.js';
import type { Subscription } from './subscription.js';
import type { RefusalReason } from '../queue/errors.js';
import { emptyMatchResult, type SharedGroup, type TopicTrie } from './topic-trie.js';
import type { BrokerStats } from './stats.js';

export class Router {
  // Reused between calls: routing is synchronous, so one scratch result is enough.
  private readonly scratch = emptyMatchResult();

  // The levels of the last topic routed: a device usually publishes on the same topic again and again, and a
  // string comparison is cheaper than splitting (an array and a string per level, per message).
  private lastTopic = '';
  private lastLevels: readonly string[] = [''];

  /** The member admit() chose per shared group (deliverMatched() delivers to them), while groupsPicked. */
  private readonly picked: (Subscription | undefined)[] = [];
  private groupsPicked = false;

  constructor(
    private readonly trie: TopicTrie,
    private readonly stats: Pick<BrokerStats, 'sharedGroupDenied'> = { sharedGroupDenied: 0 },
  ) {}

  private levelsOf(topic: string): readonly string[] {
    if (topic !== this.lastTopic) {
      this.lastLevels = topic.split('/');
      this.lastTopic = topic;
    }
    return this.lastLevels;
  }

  /** Delivers `msg` to every matching subscription; returns how many sessions it was handed to. */
  route(msg: Message): number {
    this.match(msg);
    return this.deliverMatched(msg);
  }

  /**
   * Admission for a client's QoS 1/2 publish: matches `msg` and keeps the result for deliverMatched(), which must
   * follow before the next message. Returns why a receiving session would refuse it (its queue at
   * mqtt.maxQueuedMessages; a persistent session while the store is full), and then keeps nothing.
   */
  admit(msg: Message, storeFull: boolean): RefusalReason | null {
    this.match(msg);
    const { subs, subCount, groups, groupCount } = this.scratch;
    const picked = this.picked;
    for (let i = 0; i < subCount; i++) {
      const why = refusalBy(subs[i]!, msg, storeFull);
      if (why !== null) return this.release(why);
    }
    for (let i = 0; i < groupCount; i++) {
      const member = this.pickMember(groups[i]!, msg);
      picked[i] = member;
      if (member === undefined) continue;
      const why = refusalBy(member, msg, storeFull);
      if (why !== null) return this.release(why);
    }
    this.groupsPicked = groupCount > 0;
    return null;
  }

  private match(msg: Message): void {
    // Emptied after every use (release), so it is empty here.
    try {
      this.trie.match(this.levelsOf(msg.topic), this.scratch);
    } catch (err) {
      this.release(null);
      throw err;
    }
  }

  /** Delivers to what match() (or admit()) found, then forgets it. */
  deliverMatched(msg: Message): number {
    const { subs, subCount, groups, groupCount } = this.scratch;
    let delivered = 0;
    try {
      if (subCount === 1) {
        if (deliverTo(subs[0]!, msg)) delivered++;
      } else if (subCount > 1) {
        delivered += deliverDeduplicated(subs, subCount, msg);
      }
      for (let i = 0; i < groupCount; i++) {
        const member = this.groupsPicked ? this.picked[i] : this.pickMember(groups[i]!, msg);
        if (member !== undefined && deliverTo(member, msg)) delivered++;
      }
    } finally {
      this.release(null);
    }
    return delivered;
  }

  /** pickSharedMember, counting a message that no member of the group may read (it goes to none of them). */
  private pickMember(group: SharedGroup, msg: Message): Subscription | undefined {
    const member = pickSharedMember(group, msg);
    if (member === undefined && group.members.length > 0 && !group.members.some((m) => mayRead(m, msg))) this.stats.sharedGroupDenied++;
    return member;
  }

  private release<T>(result: T): T {
    const scratch = this.scratch;
    // The arrays keep their length and backing store; the entries are cleared so that they hold no session.
    for (let i = 0; i < scratch.subCount; i++) scratch.subs[i] = undefined!;
    for (let i = 0; i < scratch.groupCount; i++) scratch.groups[i] = undefined!;
    scratch.subCount = 0;
    scratch.groupCount = 0;
    if (this.groupsPicked) {
      this.groupsPicked = false;
      this.picked.fill(undefined);
    }
    return result;
  }
}

/** Why `sub`'s session would not take `msg` (see Router.admit); null when it would or the message skips it. */
function refusalBy(sub: Subscription, msg: Message, storeFull: boolean): RefusalReason | null {
  if (sub.qos === 0 || (sub.noLocal && sub.session.clientId === msg.origin)) return null;
  // A session that may not read the topic does not get the message, so it cannot refuse it either.
  if (!mayRead(sub, msg)) return null;
  const session = sub.session;
  if (storeFull && session.hooks !== null) return 'store_full';
  return session.canTake(msg.qos) ? null : 'session_queue_full';
}

/** The ACL lets `sub`'s session read `msg` (always, without auth.aclFile). */
function mayRead(sub: Subscription, msg: Message): boolean {
  const acl = sub.session.acl;
  return acl === null || acl.canRead(msg.topic);
}

function deliverTo(sub: Subscription, msg: Message): boolean {
  // No Local: not back to the publishing client [MQTT-3.8.3-3]; not for shared subscriptions [MQTT-3.8.3-4].
  if (sub.noLocal && sub.session.clientId === msg.origin) return false;
  // A granted wildcard subscription never delivers a topic the ACL withholds from this client (auth.aclFile).
  const acl = sub.session.acl;
  if (acl !== null && !acl.canRead(msg.topic)) return false;
  const qos = (msg.qos < sub.qos ? msg.qos : sub.qos) as QoS;
  // Retain As Published; otherwise the RETAIN flag is cleared on live delivery [MQTT-3.3.1-12] [MQTT-3.3.1-13].
  const retain = sub.retainAsPublished ? msg.retain : false;
  sub.session.deliver(msg, qos, retain, sub.subscriptionId === undefined ? undefined : [sub.subscriptionId]);
  return true;
}

/**
 * A client with several matching subscriptions gets the message once, at the highest of their QoS and with all
 * their subscription identifiers [MQTT-3.3.4-2] [MQTT-3.3.4-3] [MQTT-3.3.4-5].
 */
function deliverDeduplicated(subs: readonly Subscription[], count: number, msg: Message): number {
  const bySession = new Map<Session, { qos: QoS; retain: boolean; ids: number[] | undefined }>();
  for (let i = 0; i < count; i++) {
    const sub = subs[i]!;
    if (sub.noLocal && sub.session.clientId === msg.origin) continue;
    if (sub.session.acl !== null && !sub.session.acl.canRead(msg.topic)) continue;
    const qos = (msg.qos < sub.qos ? msg.qos : sub.qos) as QoS;
    const retain = sub.retainAsPublished ? msg.retain : false;
    const seen = bySession.get(sub.session);
    if (seen === undefined) {
      bySession.set(sub.session, { qos, retain, ids: sub.subscriptionId === undefined ? undefined : [sub.subscriptionId] });
      continue;
    }
    if (qos > seen.qos) seen.qos = qos;
    seen.retain ||= retain;
    if (sub.subscriptionId !== undefined) (seen.ids ??= []).push(sub.subscriptionId);
  }
  for (const [session, d] of bySession) session.deliver(msg, d.qos, d.retain, d.ids);
  return bySession.size;
}

/**
 * One member of a shared group receives each message [MQTT-4.8.2-?]: round robin over connected members with
 * inflight room; if all are busy, the connected member with the shortest queue; if none is connected, a
 * member whose session will keep the message for later. A member whose session queue is full is passed over
 * while another can take the message. Only members whose client may read the topic are chosen (auth.aclFile):
 * one without the right would swallow the message meant for the group; if none may, nobody gets it.
 */
export function pickSharedMember(group: SharedGroup, msg: Message): Subscription | undefined {
  const members = group.members;
  const n = members.length;
  if (n === 0) return undefined;
  for (let k = 0; k < n; k++) {
    const i = (group.cursor + k) % n;
    const m = members[i]!;
    const link = m.session.link;
    if (link === null || !mayRead(m, msg)) continue;
    if (msg.qos === 0 || m.qos === 0 ? link.writable() : m.session.sendsNow()) {
      group.cursor = (i + 1) % n;
      return m;
    }
  }
  let best: Subscription | undefined;
  for (const m of members) {
    if (m.session.link !== null && (best === undefined || m.session.pending.length < best.session.pending.length) && mayRead(m, msg)) best = m;
  }
  if (best !== undefined && (msg.qos === 0 || best.session.canTake(msg.qos))) return best;
  if (msg.qos === 0) return undefined;
  // Offline members in turn, the first whose session has room; if none has, the one in turn (which refuses).
  let inTurn: Subscription | undefined;
  for (let k = 0; k < n; k++) {
    const i = (group.cursor + k) % n;
    const m = members[i]!;
    if (m.session.link !== null || !mayRead(m, msg)) continue;
    if (m.session.canTake(msg.qos)) {
      group.cursor = (i + 1) % n;
      return m;
    }
    inTurn ??= m;
  }
  if (best !== undefined) return best;
  if (inTurn !== undefined) group.cursor = (group.cursor + 1) % n;
  return inTurn;
}
