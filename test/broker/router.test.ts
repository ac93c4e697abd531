// The router's reused match result (router.ts, topic-trie.ts MatchResult): each message goes to what matches it
// and to nothing a previous message matched, whether the match grows, shrinks or is empty, through route() and
// through admit() + deliverMatched(); and the scratch arrays are not emptied (which gives their storage back).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { QoS } from 'mqtt-packet';
import { Router } from '../../src/broker/router.js';
import type { Session } from '../../src/broker/session.js';
import type { Subscription } from '../../src/broker/subscription.js';
import { TopicTrie, type MatchResult } from '../../src/broker/topic-trie.js';
import type { Message } from '../../src/protocol/message.js';

const test = suite('Router');

/** A session that records what it is handed: "clientId<-topic". */
function session(clientId: string, log: string[]): Session {
  return {
    clientId,
    acl: null,
    hooks: null,
    link: { writable: () => true, clientReceiveMaximum: 65535 },
    pending: { length: 0 },
    inflight: { size: 0 },
    canTake: () => true,
    sendsNow: () => true,
    deliver: (msg: Message) => log.push(`${clientId}<-${msg.topic}`),
  } as unknown as Session;
}

function sub(s: Session, filter: string, shareGroup?: string): Subscription {
  return { session: s, topicFilter: shareGroup === undefined ? filter : `$share/${shareGroup}/${filter}`, matchFilter: filter, shareGroup, qos: 1 as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: undefined };
}

function message(topic: string): Message {
  return { topic, payload: Buffer.from('x'), qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'publisher' };
}

function setup(): { router: Router; log: string[] } {
  const log: string[] = [];
  const trie = new TopicTrie();
  trie.add(sub(session('c1', log), 'a/b'));
  trie.add(sub(session('c2', log), 'a/+'));
  trie.add(sub(session('c3', log), 'a/#'));
  trie.add(sub(session('g1', log), 'a/b', 'g'));
  return { router: new Router(trie), log };
}

/** The topics in the order routed, with who got each: what a fresh router gives for that topic alone. */
const SEQUENCE: [string, string[]][] = [
  ['a/b', ['c1<-a/b', 'c2<-a/b', 'c3<-a/b', 'g1<-a/b']],
  ['a', ['c3<-a']],
  ['zz', []],
  ['a/c', ['c2<-a/c', 'c3<-a/c']],
  ['a/b', ['c1<-a/b', 'c2<-a/b', 'c3<-a/b', 'g1<-a/b']],
  ['a/b/c', ['c3<-a/b/c']],
];

test('route(): each message reaches what matches it, and nothing an earlier message matched', () => {
  const { router, log } = setup();
  for (const [topic, want] of SEQUENCE) {
    log.length = 0;
    assert.is(router.route(message(topic)), want.length, topic);
    assert.equal([...log].sort(), want, topic);
  }
});

test('admit() then deliverMatched(): the same, and a refusal leaves nothing for the next message', () => {
  const { router, log } = setup();
  for (const [topic, want] of SEQUENCE) {
    log.length = 0;
    const msg = message(topic);
    assert.is(router.admit(msg, false), null, topic);
    assert.is(router.deliverMatched(msg), want.length, topic);
    assert.equal([...log].sort(), want, topic);
  }
  // A persistent session's refusal while the store is full: nothing is kept for deliverMatched().
  log.length = 0;
  const s = session('p1', log);
  (s as { hooks: unknown }).hooks = {};
  const trie = new TopicTrie();
  trie.add(sub(s, 'a/#'));
  const r = new Router(trie);
  assert.is(r.admit(message('a/b'), true), 'store_full');
  assert.is(r.route(message('zz')), 0);
  assert.equal(log, []);
});

test('the scratch arrays keep their length between messages; the counts go back to 0', () => {
  const { router } = setup();
  const scratch = (router as unknown as { scratch: MatchResult }).scratch;
  const subs = scratch.subs;
  router.route(message('a/b'));
  assert.ok(scratch.subs === subs);
  assert.is(subs.length, 3, 'emptied after the match');
  assert.equal([scratch.subCount, scratch.groupCount], [0, 0]);
  assert.ok(subs.every((s) => s === undefined), 'a stale entry still holds a subscription');
  router.route(message('a'));
  assert.is(subs.length, 3);
});

test.run();
