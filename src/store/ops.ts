// Write operations shared by the tables: put a record, remove one, remove a key range. Each is applied inside
// the commit window's LMDB transaction by the commit scheduler; removals from a message database go through its
// MessageIndex (runs/message-index.ts), which finds a message inside a run.

import type { Database } from 'lmdb';
import type { TxnScope, WriteOp } from './commit-scheduler.js';
import type { KeyRange } from './keys.js';
import { LogKind, databaseId, type LogEntry } from './log/log-entry.js';
import { logRefOf, refOf } from './message-records.js';
import type { PayloadRef } from './payload/payload-store.js';
import { messageIndexOf } from './runs/message-index.js';

/** Put of one record; replacing a record that holds a payload reference frees that payload. */
export class PutOp implements WriteOp {
  readonly grows: boolean = true;
  readonly stagedRefs: readonly PayloadRef[] | undefined;

  cancelled?: boolean;

  constructor(
    protected readonly db: Database,
    protected readonly key: Buffer,
    private value: unknown,
    readonly bytes: number,
    readonly payloadBytes = 0,
    stagedRef?: PayloadRef,
    private readonly replacesMessage = false,
  ) {
    this.stagedRefs = stagedRef === undefined ? undefined : [stagedRef];
  }

  apply(scope: TxnScope): void {
    if (this.cancelled === true && !scope.isolating) return;
    if (this.replacesMessage) freeHeldPayload(this.db.get(this.key), scope);
    this.db.put(this.key, this.value);
  }

  logEntry(): LogEntry {
    return [LogKind.Put, databaseId(this.db), this.key, this.value, this.replacesMessage];
  }

  /** For a subclass that will never write the value itself (an append a run refers to): it is not kept alive. */
  protected releaseValue(): void {
    this.value = undefined;
  }
}

/** A put of a key no record held before (a session message's append): an index commit may cancel it. */
export class AppendOp extends PutOp {
  createdKey(): string | undefined {
    return this.stagedRefs === undefined ? keyIdentity(this.db, this.key) : undefined;
  }
}

/** A database and key as one string, to pair an append with its removal. */
export function keyIdentity(db: Database, key: Buffer): string {
  return `${databaseId(db)}:${key.toString('latin1')}`;
}

/** A put that replaces a record of about the same size (a session's own record): not refused when full. */
export class ReplaceOp extends PutOp {
  override readonly grows = false;
}

/** Removal of one record (absent records are fine), freeing the payload it referred to. */
export class RemoveOp implements WriteOp {
  readonly grows = false;
  readonly bytes: number;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;
  /** The append of the key is cancelled in the same index commit: nothing to remove (cancelRemovedAppends). */
  private appendCancelled = false;

  constructor(
    private readonly db: Database,
    private readonly key: Buffer,
    private readonly holdsMessage = false,
  ) {
    this.bytes = key.length;
  }

  apply(scope: TxnScope): void {
    if (this.appendCancelled && !scope.isolating) return;
    const index = messageIndexOf(this.db);
    if (index !== undefined) return index.remove(scope, this.key, this.holdsMessage);
    if (this.holdsMessage) freeHeldPayload(this.db.get(this.key), scope);
    this.db.remove(this.key);
  }

  logEntry(): LogEntry {
    return [LogKind.Remove, databaseId(this.db), this.key, this.holdsMessage];
  }

  removedKey(): string {
    return keyIdentity(this.db, this.key);
  }

  cancelRemoval(key: string): void {
    if (key === this.removedKey()) this.appendCancelled = true;
  }
}

/** Removal of every record in a key range; sees records added earlier in the same window. */
export class RangeRemoveOp implements WriteOp {
  readonly grows = false;
  readonly bytes = 16;
  readonly payloadBytes = 0;
  readonly stagedRefs = undefined;

  constructor(
    private readonly db: Database,
    private readonly range: KeyRange,
    private readonly holdsMessage = false,
  ) {}

  apply(scope: TxnScope): void {
    const index = messageIndexOf(this.db);
    if (index !== undefined) return index.removeRange(scope, this.range, this.holdsMessage);
    const keys: Buffer[] = [];
    for (const { key, value } of this.db.getRange({ start: this.range.start, end: this.range.end })) {
      keys.push(key as Buffer);
      if (this.holdsMessage) freeHeldPayload(value, scope);
    }
    for (const key of keys) this.db.remove(key);
  }

  logEntry(): LogEntry {
    return [LogKind.RangeRemove, databaseId(this.db), this.range.start, this.range.end ?? null, this.holdsMessage];
  }
}

/** Several operations that must commit together. */
export class CompositeOp implements WriteOp {
  readonly grows: boolean;
  readonly bytes: number;
  readonly payloadBytes: number;
  readonly stagedRefs: readonly PayloadRef[] | undefined;

  private byRemovedKey: Map<string, WriteOp> | undefined;

  constructor(private readonly ops: readonly WriteOp[]) {
    this.grows = ops.some((op) => op.grows);
    this.bytes = ops.reduce((sum, op) => sum + op.bytes, 0);
    this.payloadBytes = ops.reduce((sum, op) => sum + op.payloadBytes, 0);
    const refs = ops.flatMap((op) => op.stagedRefs ?? []);
    this.stagedRefs = refs.length > 0 ? refs : undefined;
  }

  apply(scope: TxnScope): void {
    for (const op of this.ops) op.apply(scope);
  }

  cancelRemoval(key: string): void {
    if (this.byRemovedKey === undefined) {
      this.byRemovedKey = new Map();
      for (const op of this.ops) {
        const removed = op.removedKey?.();
        if (removed !== undefined) this.byRemovedKey.set(removed, op);
      }
    }
    const part = this.byRemovedKey.get(key);
    if (part !== undefined) part.cancelRemoval?.(key);
    else for (const op of this.ops) if (op.removedKeys !== undefined) op.cancelRemoval?.(key);
  }

  /** The keys its removals remove (a batch of queue acknowledgements): see cancelRemovedAppends. */
  removedKeys(): readonly string[] {
    const keys: string[] = [];
    for (const op of this.ops) {
      const key = op.removedKey?.();
      if (key !== undefined) keys.push(key);
      const more = op.removedKeys?.();
      if (more !== undefined) keys.push(...more);
    }
    return keys;
  }

  /** Logged only if every part is. */
  logEntry(): LogEntry | undefined {
    const parts: LogEntry[] = [];
    for (const op of this.ops) {
      const entry = op.logEntry?.();
      if (entry === undefined) return undefined;
      if (entry !== null) parts.push(entry);
    }
    return [LogKind.Composite, parts];
  }
}

/** Frees what a removed or replaced record held: its payload-store payload, or its log record. */
export function freeHeldPayload(value: unknown, scope: TxnScope): void {
  const ref = refOf(value);
  if (ref !== undefined) scope.freeAfterCommit(ref);
  const logRef = logRefOf(value);
  if (logRef !== undefined) scope.freeLogAfterCommit(logRef);
}
