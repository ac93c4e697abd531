// Subscription index: a trie over topic levels, so matching a PUBLISH costs O(topic levels), not O(subscriptions).

import type { Subscription } from './subscription.js';

export interface SharedGroup {
  name: string;
  matchFilter: string;
  members: Subscription[];
  /** Round-robin position for the next pick among members. */
  cursor: number;
}

class TrieNode {
  children: Map<string, TrieNode> | null = null;
  /** Non-shared subscriptions ending at this node, by client identifier. */
  subs: Map<string, Subscription> | null = null;
  shared: Map<string, SharedGroup> | null = null;

  isEmpty(): boolean {
    return (
      (this.children === null || this.children.size === 0) &&
      (this.subs === null || this.subs.size === 0) &&
      (this.shared === null || this.shared.size === 0)
    );
  }
}

/**
 * What match() found: `subs[0..subCount)` and `groups[0..groupCount)`. The arrays are kept between matches and only
 * the counts go back to 0: emptying an array (length = 0) gives its backing store back, and the next match of a
 * topic with a subscriber allocated a new one, per message (issue 13). Entries past a count are stale.
 */
export interface MatchResult {
  subs: Subscription[];
  subCount: number;
  groups: SharedGroup[];
  groupCount: number;
}

export function emptyMatchResult(): MatchResult {
  return { subs: [], subCount: 0, groups: [], groupCount: 0 };
}

export class TopicTrie {
  private readonly root = new TrieNode();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(sub: Subscription): void {
    let node = this.root;
    for (const level of sub.matchFilter.split('/')) {
      if (node.children === null) node.children = new Map();
      let next = node.children.get(level);
      if (next === undefined) {
        next = new TrieNode();
        node.children.set(level, next);
      }
      node = next;
    }
    const clientId = sub.session.clientId;
    if (sub.shareGroup === undefined) {
      if (node.subs === null) node.subs = new Map();
      if (!node.subs.has(clientId)) this.count++;
      node.subs.set(clientId, sub);
      return;
    }
    if (node.shared === null) node.shared = new Map();
    let group = node.shared.get(sub.shareGroup);
    if (group === undefined) {
      group = { name: sub.shareGroup, matchFilter: sub.matchFilter, members: [], cursor: 0 };
      node.shared.set(sub.shareGroup, group);
    }
    const at = group.members.findIndex((m) => m.session.clientId === clientId);
    if (at >= 0) group.members[at] = sub;
    else {
      group.members.push(sub);
      this.count++;
    }
  }

  remove(sub: Subscription): void {
    const path: TrieNode[] = [this.root];
    const levels = sub.matchFilter.split('/');
    let node: TrieNode | undefined = this.root;
    for (const level of levels) {
      node = node.children?.get(level);
      if (node === undefined) return;
      path.push(node);
    }
    const clientId = sub.session.clientId;
    if (sub.shareGroup === undefined) {
      if (node.subs?.get(clientId) === sub && node.subs.delete(clientId)) this.count--;
    } else {
      const group = node.shared?.get(sub.shareGroup);
      if (group) {
        const at = group.members.indexOf(sub);
        if (at >= 0) {
          group.members.splice(at, 1);
          this.count--;
        }
        if (group.members.length === 0) node.shared!.delete(sub.shareGroup);
      }
    }
    // Prune empty nodes so a churn of unique filters does not leak memory.
    for (let i = path.length - 1; i > 0; i--) {
      if (!path[i]!.isEmpty()) break;
      path[i - 1]!.children!.delete(levels[i - 1]!);
    }
  }

  /** Adds every subscription matching `topic` (split into `levels`) to `out`, after what it holds. */
  match(levels: readonly string[], out: MatchResult): void {
    // A topic starting with `$` is not matched by a filter starting with a wildcard [MQTT-4.7.2-1].
    const dollar = levels[0]!.charCodeAt(0) === 0x24;
    this.walk(this.root, levels, 0, dollar, out);
  }

  private walk(node: TrieNode, levels: readonly string[], depth: number, dollar: boolean, out: MatchResult): void {
    const children = node.children;
    if (depth === levels.length) {
      collect(node, out);
      // "a/#" also matches "a" [MQTT-4.7.1-2]
      const hash = children?.get('#');
      if (hash) collect(hash, out);
      return;
    }
    if (children === null) return;
    const exact = children.get(levels[depth]!);
    if (exact) this.walk(exact, levels, depth + 1, dollar, out);
    if (dollar && depth === 0) return;
    const plus = children.get('+');
    if (plus) this.walk(plus, levels, depth + 1, dollar, out);
    const hash = children.get('#');
    if (hash) collect(hash, out);
  }
}

function collect(node: TrieNode, out: MatchResult): void {
  // forEach with the result as `this` and a module-level callback: a for-of over values() made an iterator
  // object per matching node, per message (issue 13).
  if (node.subs !== null && node.subs.size > 0) node.subs.forEach(addSub, out);
  if (node.shared !== null && node.shared.size > 0) node.shared.forEach(addGroup, out);
}

function addSub(this: MatchResult, sub: Subscription): void {
  this.subs[this.subCount++] = sub;
}

function addGroup(this: MatchResult, group: SharedGroup): void {
  this.groups[this.groupCount++] = group;
}
