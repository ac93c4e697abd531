// Dispatch strategies against fake consumers: distribution, room, ties, key stickiness, membership changes.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createStrategy } from '../../src/queue/dispatch/index.js';
import { HashKeyStrategy } from '../../src/queue/dispatch/hash-key.js';
import { LeastInflightStrategy } from '../../src/queue/dispatch/least-inflight.js';
import { RandomStrategy } from '../../src/queue/dispatch/random.js';
import { RoundRobinStrategy } from '../../src/queue/dispatch/round-robin.js';
import type { ConsumerView, DispatchStrategy } from '../../src/queue/types.js';
import { prng as seeded } from '../helpers/prng.js';

class FakeConsumer implements ConsumerView {
  room = true;
  constructor(
    readonly id: string,
    public inflight = 0,
  ) {}
  hasRoom(): boolean {
    return this.room;
  }
}

function consumers(...ids: string[]): FakeConsumer[] {
  return ids.map((id) => new FakeConsumer(id));
}

/** `n` picks with nothing changing; the ids picked, '-' for undefined. */
function picks(s: DispatchStrategy, cs: readonly ConsumerView[], n: number, key?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(s.pick(cs, key)?.id ?? '-');
  return out;
}

function tally(ids: readonly string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const id of ids) t[id] = (t[id] ?? 0) + 1;
  return t;
}

// ---------------------------------------------------------------------------------------------------------------

const rr = suite('round_robin');

rr('four consumers with room get exactly equal shares, in list order', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new RoundRobinStrategy();
  const seq = picks(s, cs, 4000);
  assert.equal(seq.slice(0, 6), ['a', 'b', 'c', 'd', 'a', 'b']);
  assert.equal(tally(seq), { a: 1000, b: 1000, c: 1000, d: 1000 });
});

rr('a consumer without room is skipped and the rotation continues after the one picked', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new RoundRobinStrategy();
  cs[1]!.room = false;
  assert.equal(picks(s, cs, 4), ['a', 'c', 'd', 'a']);
  cs[1]!.room = true;
  assert.equal(picks(s, cs, 4), ['b', 'c', 'd', 'a']);
});

rr('returns undefined when no consumer has room, and for an empty list', () => {
  const cs = consumers('a', 'b');
  for (const c of cs) c.room = false;
  const s = new RoundRobinStrategy();
  assert.is(s.pick(cs, undefined), undefined);
  assert.is(s.pick([], undefined), undefined);
});

rr('after the last picked consumer leaves, its successor is next', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new RoundRobinStrategy();
  assert.equal(picks(s, cs, 2), ['a', 'b']);
  cs.splice(1, 1);
  s.removed('b');
  assert.equal(picks(s, cs, 4), ['c', 'd', 'a', 'c']);
});

rr('a consumer leaving before the cursor does not make anyone lose a turn', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new RoundRobinStrategy();
  assert.equal(picks(s, cs, 3), ['a', 'b', 'c']);
  cs.splice(0, 1);
  s.removed('a');
  assert.equal(picks(s, cs, 3), ['d', 'b', 'c']);
});

rr('a consumer joining takes its turn at the end of the rotation', () => {
  const cs = consumers('a', 'b');
  const s = new RoundRobinStrategy();
  assert.equal(picks(s, cs, 1), ['a']);
  cs.push(new FakeConsumer('c'));
  assert.equal(picks(s, cs, 4), ['b', 'c', 'a', 'b']);
});

// ---------------------------------------------------------------------------------------------------------------

const li = suite('least_inflight');

li('picks the consumer with room with the fewest messages in flight', () => {
  const cs = [new FakeConsumer('a', 3), new FakeConsumer('b', 1), new FakeConsumer('c', 2), new FakeConsumer('d', 5)];
  const s = new LeastInflightStrategy();
  assert.is(s.pick(cs, undefined)?.id, 'b');
  cs[1]!.room = false;
  assert.is(s.pick(cs, undefined)?.id, 'c');
});

li('ties rotate among the consumers with the minimum only', () => {
  const cs = [new FakeConsumer('a', 1), new FakeConsumer('b', 0), new FakeConsumer('c', 0), new FakeConsumer('d', 2)];
  const s = new LeastInflightStrategy();
  assert.equal(picks(s, cs, 6), ['b', 'c', 'b', 'c', 'b', 'c']);
});

li('four equal consumers all acknowledging at once get exactly equal shares', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new LeastInflightStrategy();
  const seq = picks(s, cs, 4000); // inflight stays 0 for everyone: a tie every time
  assert.equal(seq.slice(0, 5), ['a', 'b', 'c', 'd', 'a']);
  assert.equal(tally(seq), { a: 1000, b: 1000, c: 1000, d: 1000 });
});

li('filling consumers up from empty spreads one message each before anyone gets a second', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new LeastInflightStrategy();
  const seq: string[] = [];
  for (let i = 0; i < 8; i++) {
    const c = s.pick(cs, undefined) as FakeConsumer;
    c.inflight++;
    seq.push(c.id);
  }
  assert.equal(seq, ['a', 'b', 'c', 'd', 'a', 'b', 'c', 'd']);
});

li('keeps every consumer busy: one acknowledging k times faster receives k times the messages', () => {
  // Consumer i finishes a message every (i + 1) ticks, one in flight each.
  const cs = consumers('a', 'b', 'c', 'd');
  const busyUntil = [0, 0, 0, 0];
  const s = new LeastInflightStrategy();
  const done: Record<string, number> = { a: 0, b: 0, c: 0, d: 0 };
  for (let tick = 0; tick < 1200; tick++) {
    cs.forEach((c, i) => {
      if (c.inflight === 1 && busyUntil[i]! <= tick) {
        c.inflight = 0;
        c.room = true;
        done[c.id]!++;
      }
    });
    for (;;) {
      const c = s.pick(cs, undefined) as FakeConsumer | undefined;
      if (c === undefined) break;
      const i = cs.indexOf(c);
      c.inflight = 1;
      c.room = false;
      busyUntil[i] = tick + i + 1;
    }
  }
  assert.equal(done, { a: 1199, b: 599, c: 399, d: 299 });
});

li('returns undefined when no consumer has room', () => {
  const cs = consumers('a', 'b');
  for (const c of cs) c.room = false;
  assert.is(new LeastInflightStrategy().pick(cs, undefined), undefined);
  assert.is(new LeastInflightStrategy().pick([], undefined), undefined);
});

// ---------------------------------------------------------------------------------------------------------------

const rnd = suite('random');

rnd('is roughly uniform over four consumers with room (seeded, 40,000 picks, each within 3% of 10,000)', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const t = tally(picks(new RandomStrategy(seeded(42)), cs, 40_000));
  assert.equal(Object.keys(t).sort(), ['a', 'b', 'c', 'd']);
  for (const id of ['a', 'b', 'c', 'd']) assert.ok(Math.abs(t[id]! - 10_000) < 300, `${id}: ${t[id]}`);
});

rnd('never picks a consumer without room, and stays uniform over the others', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  cs[2]!.room = false;
  const t = tally(picks(new RandomStrategy(seeded(7)), cs, 30_000));
  assert.is(t['c'], undefined);
  for (const id of ['a', 'b', 'd']) assert.ok(Math.abs(t[id]! - 10_000) < 300, `${id}: ${t[id]}`);
});

rnd('with a single consumer with room, always picks it', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  for (const c of cs) c.room = c.id === 'd';
  assert.equal(tally(picks(new RandomStrategy(seeded(1)), cs, 500)), { d: 500 });
});

rnd('uses the injected RNG: draws at the top of [0, 1) select the last consumer', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new RandomStrategy(() => 0.9999999);
  assert.is(s.pick(cs, undefined)?.id, 'd');
  assert.is(new RandomStrategy(() => 0).pick(cs, undefined)?.id, 'a');
});

rnd('returns undefined when no consumer has room, and for an empty list', () => {
  const cs = consumers('a', 'b');
  for (const c of cs) c.room = false;
  assert.is(new RandomStrategy(seeded(3)).pick(cs, undefined), undefined);
  assert.is(new RandomStrategy(seeded(3)).pick([], undefined), undefined);
});

// ---------------------------------------------------------------------------------------------------------------

const hk = suite('hash_key');

hk('every message of one key goes to the same consumer across 1000 picks interleaved with other keys', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new HashKeyStrategy();
  const first = s.pick(cs, 'k-7')!.id;
  for (let i = 0; i < 1000; i++) {
    s.pick(cs, `other-${i % 50}`);
    assert.is(s.pick(cs, 'k-7')?.id, first);
  }
});

hk('new keys spread evenly: 100 keys over four consumers give 25 keys each', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new HashKeyStrategy();
  const owners: string[] = [];
  for (let k = 0; k < 100; k++) owners.push(s.pick(cs, `key-${k}`)!.id);
  assert.equal(tally(owners), { a: 25, b: 25, c: 25, d: 25 });
  assert.is(s.size, 100);
});

hk('a new key goes to the consumer with the fewest keys, then the fewest in flight', () => {
  const cs = consumers('a', 'b', 'c');
  const s = new HashKeyStrategy();
  assert.is(s.pick(cs, 'x')?.id, 'a');
  assert.is(s.pick(cs, 'y')?.id, 'b');
  cs[2]!.inflight = 4;
  cs[0]!.inflight = 1;
  // c has no key but 4 in flight; still the fewest keys wins.
  assert.is(s.pick(cs, 'z')?.id, 'c');
  // Now one key each: a has 1 in flight, b 0, c 4.
  assert.is(s.pick(cs, 'w')?.id, 'b');
});

hk('a key whose consumer has no room waits (undefined) while other keys still flow', () => {
  const cs = consumers('a', 'b');
  const s = new HashKeyStrategy();
  assert.is(s.pick(cs, 'x')?.id, 'a');
  cs[0]!.room = false;
  assert.is(s.pick(cs, 'x'), undefined);
  assert.is(s.pick(cs, 'y')?.id, 'b');
  assert.is(s.pick(cs, 'x'), undefined);
  cs[0]!.room = true;
  assert.is(s.pick(cs, 'x')?.id, 'a');
});

hk('a new key when nobody has room is not assigned: undefined, and assigned later to whoever has room', () => {
  const cs = consumers('a', 'b');
  for (const c of cs) c.room = false;
  const s = new HashKeyStrategy();
  assert.is(s.pick(cs, 'x'), undefined);
  assert.is(s.size, 0);
  cs[1]!.room = true;
  assert.is(s.pick(cs, 'x')?.id, 'b');
  assert.is(s.ownerOf('x'), 'b');
});

hk('removed(owner) releases its keys: they are reassigned over the remaining consumers', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new HashKeyStrategy();
  const keysOf: Record<string, string[]> = { a: [], b: [], c: [], d: [] };
  for (let k = 0; k < 12; k++) keysOf[s.pick(cs, `key-${k}`)!.id]!.push(`key-${k}`);
  const gone = cs.splice(1, 1)[0]!;
  s.removed(gone.id);
  assert.is(s.size, 9);
  const newOwners = keysOf['b']!.map((k) => s.pick(cs, k)!.id);
  assert.equal(newOwners.sort(), ['a', 'c', 'd']);
  // Keys of the others did not move.
  for (const id of ['a', 'c', 'd']) for (const k of keysOf[id]!) assert.is(s.pick(cs, k)?.id, id);
  // The same client coming back starts with no keys and receives the next new ones.
  cs.push(new FakeConsumer('b'));
  assert.is(s.pick(cs, 'fresh-1')?.id, 'b');
  assert.is(s.pick(cs, 'fresh-2')?.id, 'b');
  assert.is(s.pick(cs, 'fresh-3')?.id, 'b');
});

hk('an owner missing from the list is treated as gone and its key reassigned', () => {
  const cs = consumers('a', 'b');
  const s = new HashKeyStrategy();
  assert.is(s.pick(cs, 'x')?.id, 'a');
  assert.is(s.pick(cs, 'y')?.id, 'b');
  assert.is(s.pick([cs[1]!], 'x')?.id, 'b');
  assert.is(s.ownerOf('x'), 'b');
});

hk('finds its owner again after the list is reordered', () => {
  const cs = consumers('a', 'b', 'c');
  const s = new HashKeyStrategy();
  assert.is(s.pick(cs, 'x')?.id, 'a');
  cs.reverse();
  assert.is(s.pick(cs, 'x')?.id, 'a');
});

hk('messages without a key go to the least loaded consumer, ties rotating', () => {
  const cs = [new FakeConsumer('a', 2), new FakeConsumer('b', 0), new FakeConsumer('c', 0)];
  const s = new HashKeyStrategy();
  assert.equal(picks(s, cs, 4, undefined), ['b', 'c', 'b', 'c']);
  assert.is(s.size, 0);
});

hk('the key map is bounded by maxKeys, forgetting a key not picked recently first', () => {
  const cs = consumers('a', 'b');
  const s = new HashKeyStrategy({ maxKeys: 3 });
  s.pick(cs, 'k1');
  s.pick(cs, 'k2');
  s.pick(cs, 'k3');
  s.pick(cs, 'k1'); // k1 recently used: gets a second chance
  s.pick(cs, 'k4');
  assert.is(s.size, 3);
  assert.is(s.ownerOf('k2'), undefined);
  assert.is(s.ownerOf('k1'), 'a');
  assert.is(s.ownerOf('k3'), 'a');
  assert.is(s.ownerOf('k4'), 'b');
  for (let k = 5; k < 1000; k++) s.pick(cs, `k${k}`);
  assert.is(s.size, 3);
});

hk('keys are counted per consumer after eviction, so new keys keep spreading evenly', () => {
  const cs = consumers('a', 'b', 'c', 'd');
  const s = new HashKeyStrategy({ maxKeys: 8 });
  for (let k = 0; k < 1000; k++) s.pick(cs, `key-${k}`);
  const owners = [];
  for (let k = 992; k < 1000; k++) owners.push(s.ownerOf(`key-${k}`));
  assert.equal(tally(owners as string[]), { a: 2, b: 2, c: 2, d: 2 });
});

// ---------------------------------------------------------------------------------------------------------------

const factory = suite('createStrategy');

factory('returns a fresh strategy of the named kind', () => {
  assert.instance(createStrategy('random'), RandomStrategy);
  assert.instance(createStrategy('round_robin'), RoundRobinStrategy);
  assert.instance(createStrategy('least_inflight'), LeastInflightStrategy);
  assert.instance(createStrategy('hash_key'), HashKeyStrategy);
  assert.is.not(createStrategy('round_robin'), createStrategy('round_robin'));
});

factory('throws on an unknown name', () => {
  assert.throws(() => createStrategy('fastest' as never), /unknown dispatch strategy: fastest/);
});

rr.run();
li.run();
rnd.run();
hk.run();
factory.run();
