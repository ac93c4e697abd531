// Reads and writes of one message database (session messages or queue messages) whose entries may be whole
// records, format-4 index entries (one per message) or runs (one per run of consecutive messages, run-entry.ts).
// Every operation on those databases goes through here, so that a message inside a run is found, changed and
// removed like one with its own key. Keys stay `id ‖ seq`; a run is keyed by its first seq, and no two entries
// cover one seq, so the entry holding a seq is the one at its key or the nearest before it.

import type { Database } from 'lmdb';
import type { DeferredWrites, TxnScope } from '../commit-scheduler.js';
import { idKey, readKeyId, readKeySeq, seqKey, seqRangeAfter, MAX_SEQ, type KeyRange } from '../keys.js';
import type { LogRef } from '../log/commit-log.js';
import { logRefOf, refOf } from '../message-records.js';
import {
  canExtend,
  covers,
  decodeRun,
  encodeRun,
  extendRemoved,
  extendRun,
  isRemoved,
  isRunEntry,
  liveRefsOf,
  markRemoved,
  newRun,
  recordRef,
  type RunEntry,
} from './run-entry.js';

/** A message as a scan finds it: an entry of its own (whole record or index entry), or record `index` of a run. */
export type ScannedMessage = { seq: number; value: unknown; run?: undefined } | { seq: number; run: RunEntry; index: number };

interface CachedRun {
  readonly id: number;
  readonly run: RunEntry;
  /** LMDB holds an entry for it (possibly older than this). */
  stored: boolean;
  dirty: boolean;
}

type Located = { key: Buffer; value: unknown; cached?: undefined } | { cached: CachedRun; index: number };

/** The runs one transaction has read or written, put (or removed) once when its operations are applied. */
class RunWrites implements DeferredWrites {
  private readonly byId = new Map<number, CachedRun[]>();
  /** The run each id's appends of this transaction extend. */
  readonly appending = new Map<number, CachedRun>();
  private readonly dirty: CachedRun[] = [];

  /**
   * `own`: one operation's, flushed when it returns (isolating, replaying); otherwise the transaction's, flushed
   * once its operations are applied (TxnScope.deferred).
   */
  constructor(
    private readonly db: Database,
    readonly own = false,
  ) {}

  add(cached: CachedRun): void {
    const list = this.byId.get(cached.id);
    if (list === undefined) this.byId.set(cached.id, [cached]);
    else list.push(cached);
  }

  find(id: number, seq: number): CachedRun | undefined {
    const list = this.byId.get(id);
    if (list !== undefined) for (const cached of list) if (covers(cached.run, seq)) return cached;
    return undefined;
  }

  /** Cached runs whose key is in `range`. */
  *inRange(range: KeyRange): Iterable<CachedRun> {
    for (const list of this.byId.values()) {
      for (const cached of list) {
        const key = seqKey(cached.id, cached.run.firstSeq);
        if (key.compare(range.start) >= 0 && (range.end === undefined || key.compare(range.end) < 0)) yield cached;
      }
    }
  }

  /** The run is no longer this transaction's to write (it was replaced by records of its own). */
  forget(cached: CachedRun): void {
    const list = this.byId.get(cached.id);
    if (list !== undefined) this.byId.set(cached.id, list.filter((c) => c !== cached));
    if (this.appending.get(cached.id) === cached) this.appending.delete(cached.id);
    const at = this.dirty.indexOf(cached);
    if (at >= 0) this.dirty.splice(at, 1);
    cached.dirty = false;
  }

  touch(cached: CachedRun): void {
    if (cached.dirty) return;
    cached.dirty = true;
    this.dirty.push(cached);
  }

  flush(): void {
    for (const cached of this.dirty) {
      const key = seqKey(cached.id, cached.run.firstSeq);
      if (cached.run.live > 0) this.db.put(key, encodeRun(cached.run));
      else if (cached.stored) this.db.remove(key);
      cached.stored = cached.run.live > 0;
      cached.dirty = false;
    }
    this.dirty.length = 0;
  }
}

/** Where a run's records are when compaction reads them: its file and first offset, or its packed record's. */
export interface RunPlace {
  file: number;
  offset: number;
}

export function placeOf(run: RunEntry): RunPlace {
  return run.packed ?? { file: run.file, offset: run.offsets[0]! };
}

export class MessageIndex {
  /**
   * `changedAt`: where a message's changed fields go in its whole record (a session message's packet id and
   * release state, a queue message's delivery count), when a run's message becomes a record of its own.
   */
  constructor(
    readonly db: Database,
    private readonly changedAt: readonly number[],
  ) {}

  /**
   * Inside a transaction: the record of `seq` is at `ref` in the commit log; it joins the run its id's previous
   * message ends (this transaction's, or the last one LMDB holds) or starts one.
   */
  appendToRun(scope: TxnScope, id: number, seq: number, ref: LogRef): void {
    // Not through withWrites: no closure for each message appended (issue 13).
    const writes = this.writesOf(scope);
    scope.logRecordLive(ref);
    let cached = writes.appending.get(id);
    if (cached === undefined || !canExtend(cached.run, seq, ref)) cached = this.storedRunBefore(writes, id, seq);
    if (cached !== undefined && canExtend(cached.run, seq, ref)) {
      extendRun(cached.run, ref);
    } else {
      cached = { id, run: newRun(seq, ref), stored: false, dirty: false };
      writes.add(cached);
    }
    writes.appending.set(id, cached);
    writes.touch(cached);
    if (writes.own) writes.flush();
  }

  /**
   * Inside a transaction: `seq` was appended and is removed again by a later operation of it (cancelRemovedAppends),
   * so it is never written; the run its id is appending takes it as removed and goes on after it. A live consumer's
   * messages would otherwise end a run at every message it acknowledged within the index interval.
   */
  skipInRun(scope: TxnScope, id: number, seq: number): void {
    const writes = scope.deferred(this, this.createWrites);
    const cached = writes?.appending.get(id);
    if (cached !== undefined && extendRemoved(cached.run, seq)) writes!.touch(cached);
  }

  /** Inside a transaction: removes the message at `key`, freeing what it holds unless `holdsMessage` is false. */
  remove(scope: TxnScope, key: Buffer, holdsMessage: boolean): void {
    const writes = this.writesOf(scope);
    this.removeIn(scope, writes, key, holdsMessage);
    if (writes.own) writes.flush();
  }

  private removeIn(scope: TxnScope, writes: RunWrites, key: Buffer, holdsMessage: boolean): void {
    const found = this.locate(writes, readKeyId(key), readKeySeq(key));
    if (found === undefined) return;
    if (found.cached === undefined) {
      if (holdsMessage) freeHeld(found.value, scope);
      this.db.remove(found.key);
      return;
    }
    const { cached, index } = found;
    const run = cached.run;
    if (!markRemoved(run, index)) return;
    writes.touch(cached);
    if (holdsMessage) scope.freeLogAfterCommit(recordRef(run, index));
  }

  /**
   * Inside a transaction: changes the message at `key` (absent or removed: nothing). A record of its own becomes
   * `update(value)` (undefined: unchanged); a message of a run keeps `fields` as its changed fields.
   */
  change(scope: TxnScope, key: Buffer, update: (value: unknown) => unknown, fields: number[]): void {
    const writes = this.writesOf(scope);
    this.changeIn(writes, key, update, fields);
    if (writes.own) writes.flush();
  }

  private changeIn(writes: RunWrites, key: Buffer, update: (value: unknown) => unknown, fields: number[]): void {
    const found = this.locate(writes, readKeyId(key), readKeySeq(key));
    if (found === undefined) return;
    if (found.cached === undefined) {
      const next = update(found.value);
      if (next !== undefined) this.db.put(found.key, next);
      return;
    }
    if (isRemoved(found.cached.run, found.index)) return;
    found.cached.run.changed.set(found.index, fields);
    writes.touch(found.cached);
  }

  /**
   * Inside a transaction: log compaction copied the run at `key` (found at `from`) into the one record `to`
   * (LogKind.MoveRun), or, without one (committed to LMDB directly, near a space limit), its messages become
   * records of their own, `wholeOf(body)` each. Nothing happens if the run is gone or has moved meanwhile: the copy
   * is dead at birth. `bodies` holds one body per message of the run, empty for one removed when it was read.
   */
  moveRun(scope: TxnScope, key: Buffer, from: RunPlace, bodies: readonly Buffer[], to: LogRef | undefined, wholeOf: (body: Buffer) => unknown[]): void {
    this.withWrites(scope, (writes) => {
      const id = readKeyId(key);
      const firstSeq = readKeySeq(key);
      const found = this.locate(writes, id, firstSeq);
      if (found?.cached === undefined || found.index !== 0) return;
      const { cached } = found;
      const run = cached.run;
      const place = placeOf(run);
      if (place.file !== from.file || place.offset !== from.offset || bodies.length !== run.count || run.live === 0) return;
      for (let i = 0; i < run.count; i++) if (!isRemoved(run, i) && (bodies[i]?.length ?? 0) === 0) return;
      for (const ref of liveRefsOf(run)) scope.freeLogAfterCommit(ref);
      if (to !== undefined) {
        run.packed = to;
        run.file = to.file;
        run.offsets = [];
        run.lengths = bodies.map((body, i) => (isRemoved(run, i) ? 0 : body.length));
        for (const ref of liveRefsOf(run)) scope.logRecordLive(ref);
        writes.touch(cached);
        return;
      }
      // Records of their own: the run's entry goes first, as the first record takes its key.
      writes.forget(cached);
      this.db.remove(key);
      for (let i = 0; i < run.count; i++) {
        if (isRemoved(run, i)) continue;
        const record = wholeOf(bodies[i]!);
        const changed = run.changed.get(i);
        if (changed !== undefined) this.changedAt.forEach((at, j) => (record[at] = changed[j]));
        this.db.put(seqKey(id, firstSeq + i), record);
      }
    });
  }

  /** Inside a transaction: removes every message with a key in `range` (a session's or a queue's). */
  removeRange(scope: TxnScope, range: KeyRange, holdsMessage: boolean): void {
    this.withWrites(scope, (writes) => {
      const handled = new Set<string>();
      for (const cached of writes.inRange(range)) {
        handled.add(seqKey(cached.id, cached.run.firstSeq).toString('latin1'));
        if (holdsMessage) for (const ref of liveRefsOf(cached.run)) scope.freeLogAfterCommit(ref);
        for (let i = 0; i < cached.run.count; i++) markRemoved(cached.run, i);
        writes.appending.delete(cached.id);
        writes.touch(cached);
      }
      const keys: Buffer[] = [];
      for (const { key, value } of this.db.getRange({ start: range.start, end: range.end })) {
        const k = key as Buffer;
        if (handled.has(k.toString('latin1'))) continue;
        keys.push(k);
        if (!holdsMessage) continue;
        if (isRunEntry(value)) for (const ref of liveRefsOf(decodeRun(readKeySeq(k), value))) scope.freeLogAfterCommit(ref);
        else freeHeld(value, scope);
      }
      for (const key of keys) this.db.remove(key);
    });
  }

  /**
   * Committed state (outside a transaction): the messages of `id` with a seq above `afterSeq` (-1: all), in seq
   * order, at most `limit` of them.
   */
  scan(id: number, afterSeq: number, limit = Number.POSITIVE_INFINITY): ScannedMessage[] {
    const found: ScannedMessage[] = [];
    if (limit <= 0 || afterSeq >= MAX_SEQ) return found;
    const range = seqRangeAfter(id, afterSeq);
    let start = range.start;
    // A run that starts at or before afterSeq may hold messages after it.
    if (afterSeq >= 0) {
      for (const { key, value } of this.db.getRange({ start: seqKey(id, afterSeq), end: idKey(id), reverse: true, limit: 1 })) {
        if (isRunEntry(value) && readKeySeq(key as Buffer) + value[2] - 1 > afterSeq) start = key as Buffer;
      }
    }
    for (const { key, value } of this.db.getRange({ start, end: range.end })) {
      const first = readKeySeq(key as Buffer);
      if (!isRunEntry(value)) {
        found.push({ seq: first, value });
        if (found.length >= limit) break;
        continue;
      }
      const run = decodeRun(first, value);
      for (let index = 0; index < run.count && found.length < limit; index++) {
        const seq = first + index;
        if (seq > afterSeq && !isRemoved(run, index)) found.push({ seq, run, index });
      }
      if (found.length >= limit) break;
    }
    return found;
  }

  private readonly createWrites = (): RunWrites => new RunWrites(this.db);

  /** The transaction's writes, or (isolating, replaying) this operation's own, which it flushes before it returns. */
  private writesOf(scope: TxnScope): RunWrites {
    return scope.deferred(this, this.createWrites) ?? new RunWrites(this.db, true);
  }

  private withWrites<T>(scope: TxnScope, fn: (writes: RunWrites) => T): T {
    const writes = this.writesOf(scope);
    const result = fn(writes);
    if (writes.own) writes.flush();
    return result;
  }

  /** The entry that holds `seq`: this transaction's runs first, then LMDB (a run found there is cached). */
  private locate(writes: RunWrites, id: number, seq: number): Located | undefined {
    const cached = writes.find(id, seq);
    if (cached !== undefined) return { cached, index: seq - cached.run.firstSeq };
    const key = seqKey(id, seq);
    const exact: unknown = this.db.get(key);
    if (exact !== undefined && !isRunEntry(exact)) return { key, value: exact };
    const run = exact !== undefined ? this.cache(writes, id, seq, exact) : this.storedRunBefore(writes, id, seq);
    if (run === undefined || !covers(run.run, seq)) return undefined;
    return { cached: run, index: seq - run.run.firstSeq };
  }

  /** The run LMDB holds nearest before `seq` under `id` (cached), if the entry there is a run. */
  private storedRunBefore(writes: RunWrites, id: number, seq: number): CachedRun | undefined {
    for (const { key, value } of this.db.getRange({ start: seqKey(id, seq), end: idKey(id), reverse: true, limit: 1 })) {
      if (!isRunEntry(value)) return undefined;
      const first = readKeySeq(key as Buffer);
      return writes.find(id, first) ?? this.cache(writes, id, first, value);
    }
    return undefined;
  }

  private cache(writes: RunWrites, id: number, firstSeq: number, value: unknown): CachedRun {
    if (!isRunEntry(value)) throw new Error('not a run');
    const cached: CachedRun = { id, run: decodeRun(firstSeq, value), stored: true, dirty: false };
    writes.add(cached);
    return cached;
  }
}

/** Frees what an entry of its own held: its payload-store payload, or its log record. */
function freeHeld(value: unknown, scope: TxnScope): void {
  const ref = refOf(value);
  if (ref !== undefined) scope.freeAfterCommit(ref);
  const logRef = logRefOf(value);
  if (logRef !== undefined) scope.freeLogAfterCommit(logRef);
}

const indexes = new WeakMap<Database, MessageIndex>();

/** Makes the generic operations (ops.ts) go through `index` for its database. */
export function registerMessageIndex(index: MessageIndex): void {
  indexes.set(index.db, index);
}

export function messageIndexOf(db: Database): MessageIndex | undefined {
  return indexes.get(db);
}
