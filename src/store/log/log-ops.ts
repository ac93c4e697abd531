// Replay of commit-log entries: each entry (log-entry.ts) becomes the operation that wrote it, applied to LMDB
// again in LSN order. Operations read what earlier ones wrote, so replaying them over the state of the
// checkpoint gives the state the acknowledged windows had.

import type { Database } from 'lmdb';
import type { WriteOp } from '../commit-scheduler.js';
import type { KeyRange } from '../keys.js';
import type { StoreContext } from '../message-records.js';
import { CompositeOp, PutOp, RangeRemoveOp, RemoveOp } from '../ops.js';
import { AppendQueueMessageOp, SetDeliveryCountOp } from '../queue-table.js';
import { SessionAppendOp, UpdateInflightOp } from '../session-message-table.js';
import type { LogRef } from './commit-log.js';
import { MoveRecordOp, MoveRunOp } from './log-compactor.js';
import { LogKind, databaseOfId, type LogEntry } from './log-entry.js';
import { resolveStrings } from './log-strings.js';

/** What a StringTable record replays as. */
const NOTHING: WriteOp = { bytes: 0, grows: false, payloadBytes: 0, stagedRefs: undefined, apply: () => undefined };

/**
 * `at`: where the record is (an append replayed from it gets an index entry referring to it); `strings`: the
 * string table of its file (log-strings.ts).
 */
export function opFromLogEntry(entry: LogEntry, ctx: StoreContext, at?: LogRef, strings: readonly string[] = []): WriteOp {
  const db = (id: unknown): Database => {
    const name = databaseOfId(id);
    const found = name === undefined ? undefined : (ctx.dbs as unknown as Record<string, Database | undefined>)[name];
    if (found === undefined) throw new Error(`commit log names an unknown database ${String(id)}`);
    return found;
  };
  const a = entry;
  switch (a[0]) {
    case LogKind.Put:
      return new PutOp(db(a[1]), a[2] as Buffer, a[3], 0, 0, undefined, a[4] as boolean);
    case LogKind.Remove:
      return new RemoveOp(db(a[1]), a[2] as Buffer, a[3] as boolean);
    case LogKind.RangeRemove: {
      const range: KeyRange = { start: a[2] as Buffer, end: (a[3] as Buffer | null) ?? undefined } as KeyRange;
      return new RangeRemoveOp(db(a[1]), range, a[4] as boolean);
    }
    case LogKind.Composite:
      return new CompositeOp((a[1] as LogEntry[]).map((part) => opFromLogEntry(part, ctx)));
    case LogKind.UpdateInflight:
      return new UpdateInflightOp(ctx, a[1] as Buffer, a[2] as number, a[3] as boolean);
    case LogKind.AppendQueueMessage: {
      const replaces = a[6] as [number, boolean] | null;
      const replaced = replaces === null ? undefined : { seq: replaces[0], inline: replaces[1] };
      return new AppendQueueMessageOp(ctx, a[1] as number, a[2] as number, a[3] as never, a[4] as number, a[5] as number, undefined, replaced as never);
    }
    case LogKind.SetDeliveryCount:
      return new SetDeliveryCountOp(ctx, a[1] as Buffer, a[2] as number);
    case LogKind.SessionAppend:
      resolveStrings(a[3] as unknown[], strings);
      return new SessionAppendOp(ctx, a[1] as number, a[2] as number, a[3] as never, 0, 0, undefined, at);
    case LogKind.QueueAppend: {
      resolveStrings(a[3] as unknown[], strings);
      const replaces = a[4] as [number, boolean] | null;
      const replaced = replaces === null ? undefined : { seq: replaces[0], inline: replaces[1] };
      return new AppendQueueMessageOp(ctx, a[1] as number, a[2] as number, a[3] as never, 0, 0, undefined, replaced as never, at);
    }
    case LogKind.MoveRecord: {
      const from = { file: a[3] as number, offset: a[4] as number, length: (a[6] as number | undefined) ?? (a[5] as Buffer).length };
      return new MoveRecordOp(ctx, db(a[1]), a[2] as Buffer, from, a[5] as Buffer, at);
    }
    case LogKind.MoveRun:
      return new MoveRunOp(ctx, db(a[1]), a[2] as Buffer, { file: a[3] as number, offset: a[4] as number }, a[5] as Buffer[], at);
    case LogKind.StringTable:
      return NOTHING; // read when the file was opened (CommitLog.open)
    default:
      throw new Error(`commit log entry of unknown kind ${String(a[0])}`);
  }
}
