// The queue engine: the set of durable queues, capture of matching publishes, consuming subscriptions
// ($q/<filter>, $queue/<name>[/<filter>]), dead-lettering and the periodic retention and ack-timeout sweep.
// It never touches a socket or a session: deliveries go through QueueConsumer (consumer.ts), whoever implements it.

import type { Message } from '../protocol/message.js';
import type { Logger } from '../log/logger.js';
import { topicMatches } from '../protocol/topic.js';
import type { QueueRef } from './queue-filter.js';
import type { Store } from '../store/store.js';
import type { DurabilityWaiter } from '../store/commit-scheduler.js';
import type { QueueCounters } from './counters.js';
import type { QueueConsumer } from './consumer.js';
import { instanceInvalidRefusal, instanceLimitRefusal, missingKeyRefusal, queueFullRefusal, storeFullRefusal, type Refusal } from './errors.js';
import { compileKeySpec, type KeyExtractor } from './key.js';
import { Queue, type HeldMessage, type RejectReason } from './queue.js';
import { DEFAULT_MAX_INSTANCES, DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from './types.js';
import { autoQueueDefinition, isValidQueueName } from '../config/queues.js';
import { fillFilter, fillName, matchFilterOf, templateLevels, valuesOf, type TemplateLevel } from './template.js';

export interface QueueEngineOptions {
  autoCreate: boolean;
  defaults: Omit<QueueDefinition, 'name' | 'topicFilter'>;
}

export { parseQueueFilter, type QueueRef } from './queue-filter.js';

/** A message's key within a queue (last-value key, hash_key dispatch). */
interface KeyedQueue {
  queue: Queue;
  key: KeyExtractor | undefined;
  hooks: QueueHooks | undefined;
}

/**
 * What an in-process owner of a queue (the device bridge's command queues) may add to its admission: a check that
 * refuses a message before any limit is looked at (validation), and a split of one message into several, each
 * admitted, keyed and stored as if published alone (a command for several last-value keys at once).
 */
export interface QueueHooks {
  check?(msg: Message): Refusal | null;
  split?(msg: Message): readonly Message[] | undefined;
}

const DEAD_LETTER_PREFIX = '$dead/';

/** A declared template (template.ts): its definition (name and topicFilter are patterns) and the queues it made. */
interface TemplateEntry {
  definition: QueueDefinition;
  /** What instances are named: the definition's name, with each `{placeholder}` replaced by its value. */
  namePattern: string;
  levels: TemplateLevel[];
  /** The pattern with `+` for each named level: what a topic must match to belong to an instance. */
  matchFilter: string;
  /** By the values of the named levels, joined with `/` (a value holds no `/`). */
  instances: Map<string, Queue>;
  /**
   * False for a template whose owner makes every instance itself (the device bridge, one per configured device):
   * publishes and subscriptions then create none, and maxInstances does not apply.
   */
  open: boolean;
  /** Instances refused (maxInstances reached, or an unusable name). */
  refused: number;
}

/** A template as the admin API shows it. */
export interface TemplateView {
  name: string;
  topicFilter: string;
  maxInstances: number | null;
  instances: number;
  refused: number;
  open: boolean;
}

/** About what storing `msg` adds to the store (its record's overhead is small against this). */
export function messageBytes(msg: Message): number {
  return msg.topic.length + msg.payload.length + 64;
}

export class QueueEngine {
  private readonly byName = new Map<string, KeyedQueue>();
  /** The values of byName as an array: admission walks it per message without an iterator. */
  private entries: KeyedQueue[] = [];
  /** What the last admit() chose, for captureAdmitted(): reused, so admission allocates nothing per message. */
  private readonly admitted: KeyedQueue[] = [];
  private readonly admittedKeys: (string | undefined)[] = [];
  /** For a queue with a split hook: the parts and their keys, appended instead of the message. */
  private readonly admittedParts: ({ msg: Message; key: string | undefined }[] | undefined)[] = [];
  private admittedCount = 0;
  private readonly byId = new Map<number, Queue>();
  private readonly templatesByName = new Map<string, TemplateEntry>();
  /** The values of templatesByName: admission walks it per message (empty: one length check). */
  private templateList: TemplateEntry[] = [];
  /** Consumers by owner (a session, a device bridge): one per owner and queue. */
  private readonly consumersByOwner = new Map<object, QueueConsumer<unknown>[]>();
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly loggedFailures = new Set<string>();
  /** Collects the durability of appends for the publisher's acknowledgement (the broker's persistence). */
  track: (p: Promise<void>) => void = () => undefined;
  /** The waiter for one more append of the publish being handled (the broker's persistence); undefined: nobody waits. */
  waiter: () => DurabilityWaiter | undefined = () => undefined;

  constructor(
    readonly store: Store,
    readonly log: Logger,
    private readonly options: QueueEngineOptions,
  ) {}

  /** Queues and their backlog sizes from the store; then the configured definitions are applied. */
  async load(definitions: QueueDefinition[]): Promise<void> {
    for (const { queueId, definition } of await this.store.loadQueues()) {
      const def = { ...DEFAULT_QUEUE_SETTINGS, ...(definition as Partial<QueueDefinition>) } as QueueDefinition;
      const queue = this.register(queueId, def);
      let depth = 0;
      let bytes = 0;
      let oldest = 0;
      let after = 0;
      for (;;) {
        const batch = await this.store.readQueueMessages(queueId, { afterSeq: after, limit: 1000 });
        if (batch.length === 0) break;
        for (const m of batch) {
          if (oldest === 0) oldest = m.enqueuedAt;
          depth++;
          bytes += m.message.payload.length;
          if (m.key !== undefined) queue.restoreLastValue(m.key, m.seq, m.message.payload.length, m.inline);
        }
        after = batch[batch.length - 1]!.seq;
      }
      queue.restoreCounts(depth, bytes, oldest);
      this.nextId = Math.max(this.nextId, queueId + 1);
    }
    for (const def of definitions) {
      if (templateLevels(def.topicFilter).length > 0) await this.declareTemplate(def);
      else await this.declare(def);
    }
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.sweepTimer.unref();
  }

  /** Set from stop(): deliveries released by the shutdown are not failed deliveries. */
  stopping = false;

  stop(): void {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  queues(): Queue[] {
    return [...this.byId.values()];
  }

  queueById(id: number): Queue | undefined {
    return this.byId.get(id);
  }

  /** The key of a message read back from the store (standard queues do not store it). */
  keyFor(queue: Queue, msg: Message): string | undefined {
    return this.byName.get(queue.name)?.key?.(msg);
  }

  queueByName(name: string): Queue | undefined {
    return this.byName.get(name)?.queue;
  }

  private register(id: number, def: QueueDefinition): Queue {
    const queue = new Queue(id, def, this);
    const key = def.key === undefined ? undefined : compileKeySpec(def.key);
    this.byName.set(def.name, { queue, key: key instanceof Error ? undefined : key, hooks: undefined });
    this.byId.set(id, queue);
    this.entries = [...this.byName.values()];
    return queue;
  }

  /** Creates a queue, or updates the settings of an existing one with that name; durable when it resolves. */
  async declare(def: QueueDefinition): Promise<Queue> {
    const existing = this.byName.get(def.name);
    if (existing !== undefined) {
      existing.queue.redefine(def);
      const key = def.key === undefined ? undefined : compileKeySpec(def.key);
      existing.key = key instanceof Error ? undefined : key;
      await this.store.saveQueue(existing.queue.id, { ...def });
      return existing.queue;
    }
    const queue = this.register(this.nextId++, def);
    this.log.info('queue created', { queue: def.name, topicFilter: def.topicFilter, type: def.type, dispatch: def.dispatch });
    await this.store.saveQueue(queue.id, { ...def });
    return queue;
  }

  /** Sets (or clears) a queue's admission hooks; false when there is no such queue. */
  setHooks(name: string, hooks: QueueHooks | undefined): boolean {
    const entry = this.byName.get(name);
    if (entry === undefined) return false;
    entry.hooks = hooks;
    return true;
  }

  /** Deletes a queue and its messages; its consumers stop receiving. */
  async delete(name: string): Promise<boolean> {
    const entry = this.byName.get(name);
    if (entry === undefined) return false;
    const queue = entry.queue;
    for (const c of [...queue.consumers]) {
      c.release();
      queue.removeConsumer(c);
      this.forgetConsumer(c);
    }
    this.byName.delete(name);
    this.byId.delete(queue.id);
    this.entries = [...this.byName.values()];
    // A deleted instance frees its place under maxInstances; the next publish for it creates it again.
    for (const t of this.templateList) for (const [k, q] of t.instances) if (q === queue) t.instances.delete(k);
    await this.store.deleteQueue(queue.id);
    this.log.info('queue deleted', { queue: name });
    return true;
  }

  // Admission and capture ----------------------------------------------------------------------------------------

  /**
   * Decides which queues take `msg`, before it goes anywhere, and remembers them (with the message's key) for
   * captureAdmitted(), which must follow before the next message. `strict` (a client's QoS 1/2 publish): the first
   * queue that refuses refuses the message as a whole, and nothing is remembered. Otherwise (QoS 0, wills, dead
   * letters) a refusing queue just does not take it, counted. A topic no queue matches costs a filter comparison
   * per queue and allocates nothing.
   */
  admit(msg: Message, strict: boolean, storeFull?: boolean): Refusal | null {
    if (this.templateList.length > 0) {
      const refusal = this.instancesFor(msg.topic);
      if (refusal !== null && strict) {
        this.admittedCount = 0;
        return refusal;
      }
    }
    const entries = this.entries;
    let n = 0;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const queue = entry.queue;
      if (!topicMatches(queue.definition.topicFilter, msg.topic)) continue;
      let parts: { msg: Message; key: string | undefined }[] | undefined;
      let verdict: string | undefined | Refusal;
      if (entry.hooks === undefined) verdict = this.verdict(entry, msg, (storeFull ??= this.store.refuses(messageBytes(msg))));
      else {
        const hooked = this.hookedVerdict(entry, msg, (storeFull ??= this.store.refuses(messageBytes(msg))));
        if (Array.isArray(hooked)) parts = hooked;
        else verdict = hooked as Refusal | string | undefined;
      }
      if (typeof verdict === 'object') {
        queue.counters.publishRejected++;
        if (strict) {
          this.admittedCount = 0;
          return verdict;
        }
        continue;
      }
      this.admitted[n] = entry;
      this.admittedKeys[n] = verdict;
      this.admittedParts[n] = parts;
      n++;
    }
    this.admittedCount = n;
    return null;
  }

  /** Where `msg` fits in one queue: its key (undefined: no key) or why not. */
  private verdict(entry: KeyedQueue, msg: Message, storeFull: boolean): string | undefined | Refusal {
    const queue = entry.queue;
    const d = queue.definition;
    let key = entry.key?.(msg);
    if (d.type === 'lastvalue' && key === undefined) {
      // missingKey: reject answers 0x99 Payload format invalid; fallback keeps it under the empty key.
      if (d.missingKey === 'reject') return missingKeyRefusal(queue.name, d.key);
      key = '';
    }
    if (storeFull) return storeFullRefusal(queue.name);
    // Replacing a key's value does not grow a last-value queue: maxMessages counts keys.
    if (queue.lastValueOf(key) !== undefined) return key;
    const limit = queue.limitHit(msg.payload.length);
    return limit === null ? key : queueFullRefusal(queue.name, limit);
  }

  /** A queue with hooks: its check, then the message or each of its parts through the usual verdict. */
  private hookedVerdict(entry: KeyedQueue, msg: Message, storeFull: boolean): string | undefined | Refusal | { msg: Message; key: string | undefined }[] {
    const refusal = entry.hooks!.check?.(msg) ?? null;
    if (refusal !== null) return refusal;
    const split = entry.hooks!.split?.(msg);
    if (split === undefined) return this.verdict(entry, msg, storeFull);
    const parts: { msg: Message; key: string | undefined }[] = [];
    for (const part of split) {
      const verdict = this.verdict(entry, part, storeFull);
      if (typeof verdict === 'object') return verdict;
      parts.push({ msg: part, key: verdict });
    }
    return parts;
  }

  /** Appends `msg` to the queues admit() chose; durability goes to `track`. Returns how many took it. */
  captureAdmitted(msg: Message): number {
    const n = this.admittedCount;
    this.admittedCount = 0;
    for (let i = 0; i < n; i++) {
      const parts = this.admittedParts[i];
      if (parts === undefined) this.append(this.admitted[i]!.queue, this.admittedKeys[i], msg);
      else {
        this.admittedParts[i] = undefined;
        for (const p of parts) this.append(this.admitted[i]!.queue, p.key, p.msg);
      }
    }
    return n;
  }

  /** Admission and capture in one (nothing refuses the message as a whole). */
  capture(msg: Message): number {
    this.admit(msg, false);
    return this.captureAdmitted(msg);
  }

  private append(queue: Queue, key: string | undefined, msg: Message): void {
    const bytes = msg.payload.length;
    const lastValue = queue.definition.type === 'lastvalue';
    const replaces = queue.lastValueOf(key); // undefined unless a last-value queue holds this key
    if (replaces === undefined) queue.makeRoom(bytes);
    const enqueuedAt = Date.now();
    // A message's RETAIN flag is not part of a queued job; without it the message itself is kept, not a copy.
    const stored: Message = msg.retain ? { topic: msg.topic, payload: msg.payload, qos: msg.qos, retain: false, properties: msg.properties, expiresAt: msg.expiresAt, origin: msg.origin } : msg;
    const waiter = new AppendWaiter(queue.counters, this.waiter());
    let appended;
    try {
      // Only a last-value queue replaces by key on disk; hash_key uses the key for dispatch alone.
      appended = this.store.appendQueueMessage(queue.id, stored, lastValue ? key : undefined, replaces, waiter);
    } catch (err) {
      waiter.durable(err);
      return;
    }
    queue.appended(appended.seq, stored, key, bytes, enqueuedAt, appended.inline);
  }

  /** One message into one queue (dead letters): admitted as any message is, refused and counted if it does not fit. */
  private appendOne(entry: KeyedQueue, msg: Message): void {
    const verdict = this.verdict(entry, msg, this.store.refuses(messageBytes(msg)));
    if (typeof verdict === 'object') {
      entry.queue.counters.publishRejected++;
      return;
    }
    this.append(entry.queue, verdict, msg);
  }

  // Templates -------------------------------------------------------------------------------------------------

  /**
   * Declares (or redeclares) a template. Instances already in the store (from before a restart) become its
   * instances again and take its current settings; `open: false` leaves creating instances to the caller.
   */
  async declareTemplate(def: QueueDefinition, options: { open?: boolean; namePattern?: string } = {}): Promise<void> {
    const levels = templateLevels(def.topicFilter);
    if (typeof levels === 'string' || levels.length === 0) throw new Error(`queue template ${def.name}: ${typeof levels === 'string' ? levels : 'no named level in its topicFilter'}`);
    const entry: TemplateEntry = this.templatesByName.get(def.name) ?? { definition: def, namePattern: def.name, levels, matchFilter: matchFilterOf(def.topicFilter), instances: new Map(), open: true, refused: 0 };
    entry.definition = def;
    entry.namePattern = options.namePattern ?? def.name;
    entry.levels = levels;
    entry.matchFilter = matchFilterOf(def.topicFilter);
    entry.open = options.open ?? true;
    this.templatesByName.set(def.name, entry);
    this.templateList = [...this.templatesByName.values()];
    const saves: Promise<unknown>[] = [];
    for (const { queue } of this.byName.values()) {
      const d = queue.definition;
      if (d.template !== def.name || d.templateValues === undefined) continue;
      entry.instances.set(levels.map((l) => d.templateValues![l.placeholder] ?? '').join('/'), queue);
      // A closed template's owner gives each instance its settings when it makes it again (instantiate()).
      if (!entry.open) continue;
      const next = this.instanceDefinition(entry, d.templateValues, this.overridesOf(queue));
      if (JSON.stringify(next) !== JSON.stringify(d)) saves.push(this.declare(next));
    }
    await Promise.all(saves);
    this.log.info('queue template declared', { template: def.name, topicFilter: def.topicFilter, instances: entry.instances.size });
  }

  templates(): TemplateView[] {
    return this.templateList.map((t) => ({
      name: t.definition.name,
      topicFilter: t.definition.topicFilter,
      maxInstances: t.open ? (t.definition.maxInstances ?? DEFAULT_MAX_INSTANCES) : null,
      instances: t.instances.size,
      refused: t.refused,
      open: t.open,
    }));
  }

  /**
   * The instance of template `name` for `values`, created when missing (registered at once, durable once `saved`
   * resolves), or why not. `overrides` are settings of this instance alone (a device's delivery settings).
   */
  instantiate(name: string, values: Readonly<Record<string, string>>, overrides: Partial<QueueDefinition> = {}): { queue: Queue; saved: Promise<void> } | Refusal {
    const entry = this.templatesByName.get(name);
    if (entry === undefined) return instanceInvalidRefusal(name, 'no such queue template');
    return this.instanceOf(entry, values, overrides);
  }

  /** Settings an instance was created with beyond its template's (kept across restarts, as the owner gave them). */
  private readonly instanceOverrides = new WeakMap<Queue, Partial<QueueDefinition>>();

  private overridesOf(queue: Queue): Partial<QueueDefinition> {
    return this.instanceOverrides.get(queue) ?? {};
  }

  private instanceDefinition(entry: TemplateEntry, values: Readonly<Record<string, string>>, overrides: Partial<QueueDefinition>): QueueDefinition {
    const { maxInstances: _m, ...settings } = entry.definition;
    return {
      ...settings,
      ...overrides,
      name: fillName(entry.namePattern, values),
      topicFilter: fillFilter(entry.definition.topicFilter, entry.levels, values),
      template: entry.definition.name,
      templateValues: { ...values },
    };
  }

  private instanceOf(entry: TemplateEntry, values: Readonly<Record<string, string>>, overrides: Partial<QueueDefinition>): { queue: Queue; saved: Promise<void> } | Refusal {
    const id = entry.levels.map((l) => values[l.placeholder] ?? '').join('/');
    const existing = entry.instances.get(id);
    if (existing !== undefined) {
      if (Object.keys(overrides).length === 0) return { queue: existing, saved: Promise.resolve() };
      // The owner's settings may have changed since the restart (a device's maxDeliveries): applied.
      this.instanceOverrides.set(existing, overrides);
      const def = this.instanceDefinition(entry, values, overrides);
      return { queue: existing, saved: this.declare(def).then(() => undefined) };
    }
    const def = this.instanceDefinition(entry, values, overrides);
    if (!isValidQueueName(def.name)) return this.refuseInstance(entry, instanceInvalidRefusal(entry.definition.name, `the instance name would be "${def.name}", not a valid queue name`));
    const taken = this.byName.get(def.name)?.queue;
    const sameFilter = taken ?? this.queues().find((q) => q.definition.topicFilter === def.topicFilter);
    if (sameFilter !== undefined) {
      // A queue declared on its own for this very filter is the instance: capturing into a second one would copy.
      if (sameFilter.definition.topicFilter !== def.topicFilter) return this.refuseInstance(entry, instanceInvalidRefusal(entry.definition.name, `queue name "${def.name}" is taken by a queue on ${sameFilter.definition.topicFilter}`));
      entry.instances.set(id, sameFilter);
      // An owner's queue from before templates (the device bridge's): it becomes the instance, with its settings.
      if (!entry.open && sameFilter.name === def.name) {
        if (Object.keys(overrides).length > 0) this.instanceOverrides.set(sameFilter, overrides);
        return { queue: sameFilter, saved: this.declare(def).then(() => undefined) };
      }
      return { queue: sameFilter, saved: Promise.resolve() };
    }
    const limit = entry.definition.maxInstances ?? DEFAULT_MAX_INSTANCES;
    if (entry.open && entry.instances.size >= limit) return this.refuseInstance(entry, instanceLimitRefusal(entry.definition.name, limit));
    const queue = this.register(this.nextId++, def);
    if (Object.keys(overrides).length > 0) this.instanceOverrides.set(queue, overrides);
    entry.instances.set(id, queue);
    this.log.info('queue created from template', { queue: def.name, template: entry.definition.name, topicFilter: def.topicFilter });
    return { queue, saved: this.store.saveQueue(queue.id, { ...def }) };
  }

  private refuseInstance(entry: TemplateEntry, refusal: Refusal): Refusal {
    if (entry.refused++ === 0) this.log.warn('queue template refused an instance', { template: entry.definition.name, detail: refusal.detail });
    return refusal;
  }

  /**
   * Admission of a topic under the open templates: the instances it belongs to are created before the queues are
   * asked, so the first publish is captured by the queue it creates. Returns the first refusal, if any.
   */
  private instancesFor(topic: string): Refusal | null {
    let levels: string[] | undefined;
    let refusal: Refusal | null = null;
    for (let i = 0; i < this.templateList.length; i++) {
      const t = this.templateList[i]!;
      if (!t.open || !topicMatches(t.matchFilter, topic)) continue;
      const values = valuesOf((levels ??= topic.split('/')), t.levels);
      if (values === undefined) continue;
      const made = this.instanceOf(t, values, {});
      if ('reason' in made) refusal ??= made;
      else this.track(made.saved);
    }
    return refusal;
  }

  /** A consuming subscription's filter naming one instance of an open template literally; created when missing. */
  private async instanceForFilter(filter: string): Promise<Queue | string | undefined> {
    const levels = filter.split('/');
    for (const t of this.templateList) {
      if (!t.open || !topicMatches(t.matchFilter, filter)) continue;
      const values = valuesOf(levels, t.levels);
      // Wildcards elsewhere than in the named levels: not one instance.
      if (values === undefined || levels.some((l) => l === '+' || l === '#')) continue;
      const made = this.instanceOf(t, values, {});
      if ('reason' in made) return made.detail;
      await made.saved;
      return made.queue;
    }
    return undefined;
  }

  // Consumers -------------------------------------------------------------------------------------------------

  /** The queue a consuming subscription names, created when allowed; a string says why not. */
  async resolve(ref: QueueRef): Promise<Queue | string> {
    if (ref.name !== undefined) {
      const named = this.queueByName(ref.name);
      if (named !== undefined) return named;
      if (ref.topicFilter === undefined) return `no queue named ${ref.name}`;
      if (!this.options.autoCreate) return `no queue named ${ref.name} and queues.autoCreate is off`;
      const def = autoQueueDefinition(ref.topicFilter, this.options.defaults, ref.name);
      return typeof def === 'string' ? def : this.declare(def);
    }
    const filter = ref.topicFilter!;
    for (const { queue } of this.byName.values()) if (queue.definition.topicFilter === filter) return queue;
    // `$q/lights/light-7/commands` under the template `lights/{id}/commands`: that one instance.
    const instance = await this.instanceForFilter(filter);
    if (instance !== undefined) return instance;
    if (!this.options.autoCreate) return `no queue for ${filter} and queues.autoCreate is off`;
    const def = autoQueueDefinition(filter, this.options.defaults);
    return typeof def === 'string' ? def : this.declare(def);
  }

  /** Adds a consumer to its queue; false (nothing changes) when its owner already consumes that queue. */
  addConsumer(consumer: QueueConsumer<unknown>): boolean {
    const list = this.consumersByOwner.get(consumer.owner) ?? [];
    if (list.some((c) => c.queue === consumer.queue)) return false;
    list.push(consumer);
    this.consumersByOwner.set(consumer.owner, list);
    consumer.queue.addConsumer(consumer);
    return true;
  }

  /** The owner stops consuming one queue (unsubscribe): what it had in flight goes back to the queue. */
  removeConsumer(owner: object, queueName: string): void {
    const list = this.consumersByOwner.get(owner);
    const consumer = list?.find((c) => c.queue.name === queueName);
    if (consumer === undefined) return;
    consumer.release();
    consumer.queue.removeConsumer(consumer);
    this.forgetConsumer(consumer);
  }

  private forgetConsumer(consumer: QueueConsumer<unknown>): void {
    const list = this.consumersByOwner.get(consumer.owner);
    if (list === undefined) return;
    const rest = list.filter((c) => c !== consumer);
    if (rest.length > 0) this.consumersByOwner.set(consumer.owner, rest);
    else this.consumersByOwner.delete(consumer.owner);
  }

  /** The owner went away (a session's connection closed): its unacknowledged messages are offered to others at once. */
  ownerDetached(owner: object): void {
    const list = this.consumersByOwner.get(owner);
    if (list === undefined) return;
    this.consumersByOwner.delete(owner);
    for (const c of list) {
      c.release();
      c.queue.removeConsumer(c);
    }
  }

  /** The owner can take deliveries again (a freed inflight slot, a drained socket): its queues dispatch. */
  ownerHasRoom(owner: object): void {
    const list = this.consumersByOwner.get(owner);
    if (list !== undefined) for (const c of list) c.queue.scheduleDispatch();
  }

  // Failures ---------------------------------------------------------------------------------------------------

  /**
   * Moves a message that reached maxDeliveries to the dead-letter queue, keeping its topic and properties and
   * adding user properties that say from where and why; without a dead-letter queue it is dropped and counted.
   */
  deadLetter(from: Queue, held: HeldMessage, reason: RejectReason): void {
    // Counted once, by the caller's removal of the message from `from` (Queue.remove with 'deadLettered').
    const target = from.definition.deadLetter;
    if (target === undefined) return;
    const msg = held.message;
    const userProperties = { ...(msg.properties?.userProperties ?? {}) };
    userProperties['wharf-dead-letter-queue'] = from.name;
    userProperties['wharf-dead-letter-reason'] = reason;
    userProperties['wharf-delivery-count'] = String(held.deliveryCount);
    if (held.lastError !== undefined) userProperties['wharf-dead-letter-detail'] = held.lastError;
    const dead: Message = { ...msg, properties: { ...msg.properties, userProperties } };
    delete dead.encodedProperties;
    const existing = this.byName.get(target);
    const send = (entry: KeyedQueue) => this.appendOne(entry, dead);
    if (existing !== undefined) send(existing);
    else {
      const def = autoQueueDefinition(`${DEAD_LETTER_PREFIX}${target}`, { ...this.options.defaults, deadLetter: undefined, maxDeliveries: 0 }, target);
      if (typeof def === 'string') {
        this.storeFailed('dead-letter queue', new Error(def));
        return;
      }
      this.declare(def).then(
        () => send(this.byName.get(target)!),
        (err) => this.storeFailed('dead-letter queue', err),
      );
    }
  }

  storeFailed(what: string, err: unknown): void {
    if (this.loggedFailures.has(what)) return;
    this.loggedFailures.add(what);
    this.log.error('queue store write failed', { what, error: (err as Error)?.message ?? String(err) });
  }

  private sweep(): void {
    const now = Date.now();
    for (const queue of this.byId.values()) {
      queue.expireOld(now);
      if (queue.definition.ackTimeoutMs > 0) for (const c of queue.consumers) c.expireDeliveries(now);
    }
  }
}

/** One append's durability: a failure counts against the queue, and the publisher's acknowledgement hears of it. */
class AppendWaiter implements DurabilityWaiter {
  constructor(
    private readonly counters: QueueCounters,
    private readonly outer: DurabilityWaiter | undefined,
  ) {}

  durable(err: unknown): void {
    if (err !== undefined) this.counters.publishRejected++;
    this.outer?.durable(err);
  }
}
