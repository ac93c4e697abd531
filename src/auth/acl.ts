// Mosquitto's acl_file syntax plus queue rules (README, Security): `user <name>`, `topic [read|write|readwrite|deny]
// <filter>`, `pattern [access] <filter>` with %u and %c, and Wharf's `queue [consume|create|all] <name>` and
// `queuepattern [consume|create|all] <name>`. Rules before the first `user` line are the anonymous clients'.

import { readFileSync } from 'node:fs';

export type TopicAccess = 'read' | 'write' | 'readwrite' | 'deny';
export type QueueRight = 'consume' | 'create' | 'all';

export interface TopicRule {
  access: TopicAccess;
  filter: string;
}

export interface QueueRule {
  right: QueueRight;
  /** A queue name, or a prefix ending in `*`. */
  name: string;
}

/** Rules as written, before %u/%c are filled in for one client. */
interface RuleSet {
  topics: TopicRule[];
  queues: QueueRule[];
}

export interface AclProblem {
  line: number;
  message: string;
}

const ACCESS = new Set<TopicAccess>(['read', 'write', 'readwrite', 'deny']);
const RIGHTS = new Set<QueueRight>(['consume', 'create', 'all']);

/** The rules that apply to one client, %u and %c filled in; what SessionAcl decides with. */
export interface ClientRules {
  read: string[];
  write: string[];
  deny: string[];
  consume: string[];
  create: string[];
}

export class AclFile {
  private constructor(
    private readonly anonymous: RuleSet,
    private readonly users: ReadonlyMap<string, RuleSet>,
    private readonly patterns: RuleSet,
    readonly problems: readonly AclProblem[],
    readonly ruleCount: number,
  ) {}

  static load(path: string): AclFile {
    return AclFile.parse(readFileSync(path, 'utf8'));
  }

  static parse(text: string): AclFile {
    const anonymous: RuleSet = { topics: [], queues: [] };
    const patterns: RuleSet = { topics: [], queues: [] };
    const users = new Map<string, RuleSet>();
    const problems: AclProblem[] = [];
    let current = anonymous;
    let count = 0;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '').trim();
      if (line.length === 0 || line.startsWith('#')) continue;
      const space = line.search(/\s/);
      const keyword = space < 0 ? line : line.slice(0, space);
      const rest = space < 0 ? '' : line.slice(space).trim();
      const problem = (message: string) => problems.push({ line: i + 1, message });
      switch (keyword) {
        case 'user': {
          if (rest.length === 0) {
            problem('user needs a name');
            break;
          }
          let set = users.get(rest);
          if (set === undefined) users.set(rest, (set = { topics: [], queues: [] }));
          current = set;
          break;
        }
        case 'topic':
        case 'pattern': {
          const rule = topicRule(rest);
          if (typeof rule === 'string') problem(`${keyword}: ${rule}`);
          else {
            (keyword === 'topic' ? current : patterns).topics.push(rule);
            count++;
          }
          break;
        }
        case 'queue':
        case 'queuepattern': {
          const rule = queueRule(rest);
          if (typeof rule === 'string') problem(`${keyword}: ${rule}`);
          else {
            (keyword === 'queue' ? current : patterns).queues.push(rule);
            count++;
          }
          break;
        }
        default:
          problem(`unknown keyword "${keyword}" (expected user, topic, pattern, queue or queuepattern)`);
      }
    }
    return new AclFile(anonymous, users, patterns, problems, count);
  }

  /** The rules of a client: its user's (or the anonymous ones) and every pattern, %u and %c filled in. */
  rulesFor(username: string | undefined, clientId: string): ClientRules {
    const out: ClientRules = { read: [], write: [], deny: [], consume: [], create: [] };
    const own = username === undefined ? this.anonymous : this.users.get(username);
    const fill = (s: string) => substitute(s, username, clientId);
    // `topic` lines are taken literally, as in Mosquitto; queue names take %u/%c wherever they are written.
    if (own !== undefined) add(out, own, (s) => s, fill);
    add(out, this.patterns, fill, fill);
    return out;
  }
}

function add(out: ClientRules, set: RuleSet, fill: (s: string) => string | undefined, fillQueue: (s: string) => string | undefined): void {
  for (const t of set.topics) {
    const filter = fill(t.filter);
    if (filter === undefined) continue;
    if (t.access === 'deny') out.deny.push(filter);
    if (t.access === 'read' || t.access === 'readwrite') out.read.push(filter);
    if (t.access === 'write' || t.access === 'readwrite') out.write.push(filter);
  }
  for (const q of set.queues) {
    const name = fillQueue(q.name);
    if (name === undefined) continue;
    if (q.right !== 'create') out.consume.push(name);
    if (q.right !== 'consume') out.create.push(name);
  }
}

/**
 * %u and %c in a pattern. A client without a user name gets no %u rule, and a value holding a wildcard or a
 * level separator would widen the rule (a client id "+" matching everyone's %c/# topics): such a rule is dropped.
 */
function substitute(text: string, username: string | undefined, clientId: string): string | undefined {
  if (text.includes('%u')) {
    if (username === undefined || /[+#/]/.test(username)) return undefined;
    text = text.replaceAll('%u', username);
  }
  if (text.includes('%c')) {
    if (/[+#/]/.test(clientId)) return undefined;
    text = text.replaceAll('%c', clientId);
  }
  return text;
}

function topicRule(rest: string): TopicRule | string {
  const space = rest.search(/\s/);
  const first = space < 0 ? rest : rest.slice(0, space);
  let access: TopicAccess = 'readwrite';
  let filter = rest;
  // `topic <filter>` alone means readwrite, as in Mosquitto.
  if (ACCESS.has(first as TopicAccess) && space >= 0) {
    access = first as TopicAccess;
    filter = rest.slice(space).trim();
  }
  if (filter.length === 0) return 'needs a topic filter';
  if (!validRuleFilter(filter)) return `"${filter}" is not a valid topic filter`;
  return { access, filter };
}

function queueRule(rest: string): QueueRule | string {
  const parts = rest.split(/\s+/);
  if (parts.length !== 2 || !RIGHTS.has(parts[0] as QueueRight)) return 'expected consume, create or all, then a queue name';
  const name = parts[1]!;
  if (!/^[A-Za-z0-9_.%-]*\*?$/.test(name) || name.length === 0) return `"${name}" is not a queue name (letters, digits, _ . -, %u, %c, a trailing *)`;
  return { right: parts[0] as QueueRight, name };
}

/** Filters with `+`/`#` only as whole levels (`#` last); `%u`/`%c` count as text. */
function validRuleFilter(filter: string): boolean {
  const levels = filter.split('/');
  return levels.every((l, i) => (l.includes('#') ? l === '#' && i === levels.length - 1 : !l.includes('+') || l === '+'));
}

/** A queue rule's name matches `queue`: equal, or a prefix ending in `*`. */
export function queueNameMatches(rule: string, queue: string): boolean {
  return rule.endsWith('*') ? queue.startsWith(rule.slice(0, -1)) : rule === queue;
}
