// The subscription trie: add, remove and match of plain and shared subscriptions, the wildcard rules of
// MQTT 5.0 section 4.7, pruning of empty nodes, and agreement with topicMatches over many subscriptions.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Session } from '../../src/broker/session.js';
import type { Subscription } from '../../src/broker/subscription.js';
import { emptyMatchResult, TopicTrie, type SharedGroup } from '../../src/broker/topic-trie.js';
import { parseSharedFilter, topicMatches } from '../../src/protocol/topic.js';

function sub(clientId: string, topicFilter: string): Subscription {
  const shared = parseSharedFilter(topicFilter);
  if (shared === 'invalid') throw new Error(`bad filter ${topicFilter}`);
  return {
    session: { clientId } as Session,
    topicFilter,
    matchFilter: shared === null ? topicFilter : shared.filter,
    shareGroup: shared === null ? undefined : shared.group,
    qos: 0,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: undefined,
  };
}

function match(trie: TopicTrie, topic: string): { subs: Subscription[]; groups: SharedGroup[] } {
  const out = emptyMatchResult();
  trie.match(topic.split('/'), out);
  return { subs: out.subs.slice(0, out.subCount), groups: out.groups.slice(0, out.groupCount) };
}

/** "client:filter" of every plain subscription matching `topic`, sorted. */
function matched(trie: TopicTrie, topic: string): string[] {
  return match(trie, topic)
    .subs.map((s) => `${s.session.clientId}:${s.topicFilter}`)
    .sort();
}

type Node = { children: Map<string, Node> | null };
function rootChildren(trie: TopicTrie): string[] {
  const root = (trie as unknown as { root: Node }).root;
  return root.children === null ? [] : [...root.children.keys()].sort();
}

const test = suite('TopicTrie');

test('an exact filter matches only its own topic', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', 'sport/tennis'));
  assert.equal(matched(trie, 'sport/tennis'), ['c1:sport/tennis']);
  for (const t of ['sport', 'sport/tennis/x', 'sport/Tennis', 'sport/tennis/', '/sport/tennis']) assert.equal(matched(trie, t), [], t);
});

test('"#" matches the parent level and every level below it [MQTT-4.7.1-1]', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', 'sport/tennis/player1/#'));
  trie.add(sub('c2', '#'));
  for (const t of ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis/player1/score/wimbledon', 'sport/tennis/player1/']) {
    assert.equal(matched(trie, t), ['c1:sport/tennis/player1/#', 'c2:#'], t);
  }
  assert.equal(matched(trie, 'sport/tennis'), ['c2:#']);
  assert.equal(matched(trie, 'sport/tennis/player12'), ['c2:#']);
});

test('"+" matches exactly one level, including an empty one [MQTT-4.7.1-2]', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', 'a/+/c'));
  trie.add(sub('c2', '+'));
  trie.add(sub('c3', '+/+'));
  trie.add(sub('c4', '/+'));
  assert.equal(matched(trie, 'a/b/c'), ['c1:a/+/c']);
  assert.equal(matched(trie, 'a//c'), ['c1:a/+/c']);
  assert.equal(matched(trie, 'a/b/c/d'), []);
  assert.equal(matched(trie, 'a/c'), ['c3:+/+']);
  assert.equal(matched(trie, 'finance'), ['c2:+']);
  assert.equal(matched(trie, '/finance'), ['c3:+/+', 'c4:/+']);
  assert.equal(matched(trie, '/'), ['c3:+/+', 'c4:/+']);
});

test('topics starting with $ are not matched by filters starting with a wildcard [MQTT-4.7.2-1]', () => {
  const trie = new TopicTrie();
  for (const f of ['#', '+/monitor/Clients', '+/#', '$SYS/#', '$SYS/monitor/+', 'a/+', 'a/#']) trie.add(sub(`c-${f}`, f));
  assert.equal(matched(trie, '$SYS/monitor/Clients'), ['c-$SYS/#:$SYS/#', 'c-$SYS/monitor/+:$SYS/monitor/+']);
  assert.equal(matched(trie, '$SYS'), ['c-$SYS/#:$SYS/#']);
  assert.equal(matched(trie, 'x/monitor/Clients'), ['c-#:#', 'c-+/#:+/#', 'c-+/monitor/Clients:+/monitor/Clients']);
  // Only the first level counts: a $ further down is an ordinary character.
  assert.equal(matched(trie, 'a/$b'), ['c-#:#', 'c-+/#:+/#', 'c-a/#:a/#', 'c-a/+:a/+']);
});

test('every subscriber of a filter is returned once, and overlapping filters of one client each once', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', 'a/b'));
  trie.add(sub('c2', 'a/b'));
  trie.add(sub('c1', 'a/+'));
  trie.add(sub('c1', '#'));
  assert.is(trie.size, 4);
  assert.equal(matched(trie, 'a/b'), ['c1:#', 'c1:a/+', 'c1:a/b', 'c2:a/b']);
});

test('adding the same filter for the same client again replaces the subscription', () => {
  const trie = new TopicTrie();
  const first = sub('c1', 'a/b');
  const second = sub('c1', 'a/b');
  trie.add(first);
  trie.add(second);
  assert.is(trie.size, 1);
  const m = match(trie, 'a/b');
  assert.is(m.subs.length, 1);
  assert.ok(m.subs[0] === second);
  // Removing the replaced object leaves the current one in place.
  trie.remove(first);
  assert.is(trie.size, 1);
  assert.ok(match(trie, 'a/b').subs[0] === second);
});

test('shared subscriptions come back as one group per ShareName with all its members', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', '$share/g1/a/+'));
  trie.add(sub('c2', '$share/g1/a/+'));
  trie.add(sub('c3', '$share/g2/a/+'));
  trie.add(sub('c4', 'a/+'));
  trie.add(sub('c1', '$share/g1/a/+')); // re-subscribe: replaces the member, no second entry
  assert.is(trie.size, 4);
  const m = match(trie, 'a/x');
  assert.equal(m.subs.map((s) => s.session.clientId), ['c4']);
  const groups = m.groups.map((g) => `${g.name}:${g.matchFilter}:${g.members.map((s) => s.session.clientId).join(',')}`).sort();
  assert.equal(groups, ['g1:a/+:c1,c2', 'g2:a/+:c3']);
  assert.equal(match(trie, 'b/x').groups, []);
});

test('removing the last member removes the group', () => {
  const trie = new TopicTrie();
  const a = sub('c1', '$share/g/t');
  const b = sub('c2', '$share/g/t');
  trie.add(a);
  trie.add(b);
  trie.remove(a);
  assert.equal(match(trie, 't').groups.map((g) => g.members.map((s) => s.session.clientId)), [['c2']]);
  trie.remove(b);
  assert.equal(match(trie, 't').groups, []);
  assert.is(trie.size, 0);
  assert.equal(rootChildren(trie), []);
});

test('remove prunes empty nodes and keeps branches still in use', () => {
  const trie = new TopicTrie();
  const deep = sub('c1', 'a/b/c/d');
  const mid = sub('c2', 'a/b');
  const other = sub('c3', 'x/#');
  trie.add(deep);
  trie.add(mid);
  trie.add(other);
  assert.equal(rootChildren(trie), ['a', 'x']);
  trie.remove(deep);
  assert.equal(matched(trie, 'a/b'), ['c2:a/b']);
  assert.equal(matched(trie, 'a/b/c/d'), []);
  const a = (trie as unknown as { root: Node }).root.children!.get('a')!;
  const b = a.children!.get('b')!;
  assert.ok(b.children === null || b.children.size === 0, 'the c/d branch below a/b is pruned');
  trie.remove(mid);
  assert.equal(rootChildren(trie), ['x']);
  trie.remove(other);
  assert.equal(rootChildren(trie), []);
  assert.is(trie.size, 0);
});

test('removing a subscription that is not there changes nothing', () => {
  const trie = new TopicTrie();
  trie.add(sub('c1', 'a/b'));
  trie.remove(sub('c2', 'a/b'));
  trie.remove(sub('c1', 'a/c'));
  trie.remove(sub('c1', 'a/b/c'));
  trie.remove(sub('c1', '$share/g/a/b'));
  assert.is(trie.size, 1);
  assert.equal(matched(trie, 'a/b'), ['c1:a/b']);
});

// Deterministic pseudo-random numbers (mulberry32), so a failure is reproducible.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('with thousands of subscriptions, matches agree with topicMatches and all can be removed', () => {
  const rand = rng(42);
  const words = ['a', 'b', 'c', '', '$x'];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const trie = new TopicTrie();
  const subs: Subscription[] = [];
  const seen = new Set<string>();
  for (let i = 0; seen.size < 5000 && i < 100000; i++) {
    const depth = 1 + Math.floor(rand() * 4);
    const levels: string[] = [];
    for (let d = 0; d < depth; d++) levels.push(rand() < 0.25 ? '+' : pick(words));
    if (rand() < 0.2) levels.push('#');
    const filter = levels.join('/');
    const clientId = `c${Math.floor(rand() * 50)}`;
    const key = `${clientId}:${filter}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const s = sub(clientId, filter);
    subs.push(s);
    trie.add(s);
  }
  assert.is(trie.size, 5000);
  for (let i = 0; i < 300; i++) {
    const depth = 1 + Math.floor(rand() * 5);
    const topic = Array.from({ length: depth }, () => pick(words)).join('/');
    const expected = subs
      .filter((s) => topicMatches(s.matchFilter, topic))
      .map((s) => `${s.session.clientId}:${s.topicFilter}`)
      .sort();
    assert.equal(matched(trie, topic), expected, topic);
  }
  for (const s of subs) trie.remove(s);
  assert.is(trie.size, 0);
  assert.equal(rootChildren(trie), []);
});

test.run();
