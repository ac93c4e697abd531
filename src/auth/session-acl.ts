// One client's authorization: its rules from the ACL file with %u/%c filled in, and a cache of decisions per
// topic, so a device publishing on the same topics again and again costs one Map lookup per PUBLISH.

import { topicMatches } from '../protocol/topic.js';
import { queueNameMatches, type AclFile, type ClientRules } from './acl.js';
import { filterCovers } from './filter-cover.js';

/** Decisions kept per session and direction; a client walking through endless topics starts afresh, bounded. */
const MAX_CACHED = 1024;

export class SessionAcl {
  private rules: ClientRules;
  private readonly writeCache = new Map<string, boolean>();
  private readonly readCache = new Map<string, boolean>();
  // The last decision per direction: a device publishing on one topic again and again is answered by one string
  // comparison, without hashing the topic (a fresh string from the parser each time) for the map.
  private lastWriteTopic = '';
  private lastWriteAllowed = false;
  private lastReadTopic = '';
  private lastReadAllowed = false;

  constructor(
    private file: AclFile,
    readonly username: string | undefined,
    readonly clientId: string,
  ) {
    this.rules = file.rulesFor(username, clientId);
  }

  /** A reloaded ACL file (SIGHUP) replaces the rules; decisions made under the old ones are forgotten. */
  reload(file: AclFile): void {
    if (file === this.file) return;
    this.file = file;
    this.rules = file.rulesFor(this.username, this.clientId);
    this.writeCache.clear();
    this.readCache.clear();
    this.lastWriteTopic = '';
    this.lastReadTopic = '';
  }

  /** May this client PUBLISH on `topic`? A deny rule matching the topic wins over any grant. */
  canWrite(topic: string): boolean {
    if (topic === this.lastWriteTopic) return this.lastWriteAllowed;
    let allowed = this.writeCache.get(topic);
    if (allowed === undefined) {
      allowed = !anyMatches(this.rules.deny, topic) && anyMatches(this.rules.write, topic);
      remember(this.writeCache, topic, allowed);
    }
    this.lastWriteTopic = topic;
    this.lastWriteAllowed = allowed;
    return allowed;
  }

  /** May a message on `topic` be delivered to this client (whatever subscription matched it)? */
  canRead(topic: string): boolean {
    if (topic === this.lastReadTopic) return this.lastReadAllowed;
    let allowed = this.readCache.get(topic);
    if (allowed === undefined) {
      allowed = !anyMatches(this.rules.deny, topic) && anyMatches(this.rules.read, topic);
      remember(this.readCache, topic, allowed);
    }
    this.lastReadTopic = topic;
    this.lastReadAllowed = allowed;
    return allowed;
  }

  /**
   * May this client SUBSCRIBE to `filter` (a shared subscription's filter without `$share/<group>/`)? Only when
   * one read rule covers every topic the filter can match and no deny rule covers the whole filter; topics of a
   * granted filter that a deny rule names are withheld on delivery (canRead).
   */
  canSubscribe(filter: string): boolean {
    if (this.rules.deny.some((d) => filterCovers(d, filter))) return false;
    return this.rules.read.some((r) => filterCovers(r, filter));
  }

  canConsume(queue: string): boolean {
    return this.rules.consume.some((r) => queueNameMatches(r, queue));
  }

  canCreate(queue: string): boolean {
    return this.rules.create.some((r) => queueNameMatches(r, queue));
  }
}

function anyMatches(filters: readonly string[], topic: string): boolean {
  for (let i = 0; i < filters.length; i++) if (topicMatches(filters[i]!, topic)) return true;
  return false;
}

function remember(cache: Map<string, boolean>, topic: string, allowed: boolean): void {
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(topic, allowed);
}
