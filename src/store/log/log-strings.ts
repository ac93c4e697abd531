// String tables of commit-log files (store format 4): the topic and origin of a message record the log holds are
// written once per file and then named by a small number, since the same few topics and publishers repeat in
// every record (a 256-byte message with a 16-character topic and a 14-character origin spends ~32 bytes of its
// ~320 on them). A file's table is written as StringTable records ([10, first id, [strings]]) in the same write
// as, and before, the first record using them, so a scan that reaches a record has read its strings; a reused
// file gets a new number and a new table. Reads resolve the numbers through the table of the record's file.

import { PayloadCorruptError } from '../errors.js';
import { LogKind, type LogEntry } from './log-entry.js';

/** Strings shorter than this cost about as much as their number: written as they are. */
const MIN_INTERNED_LENGTH = 4;
/** Longer ones are rare and would make the table large: written as they are. */
const MAX_INTERNED_LENGTH = 256;
/** At most this many per file (a topic per device of a large site): the rest are written as they are. */
const MAX_STRINGS_PER_FILE = 4096;

/** msgpack of [10, …]: a fixarray of 3 whose first element is the positive fixint 10. */
const TABLE_BODY_PREFIX = [0x93, LogKind.StringTable] as const;

export class StringTable {
  readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();

  /** The number of `value` in this file's table, adding it to `added` if new; `value` itself if not interned. */
  intern(value: unknown, added: string[]): unknown {
    if (typeof value !== 'string' || value.length < MIN_INTERNED_LENGTH || value.length > MAX_INTERNED_LENGTH) return value;
    const known = this.ids.get(value);
    if (known !== undefined) return known;
    if (this.strings.length >= MAX_STRINGS_PER_FILE) return value;
    const id = this.strings.length;
    this.strings.push(value);
    this.ids.set(value, id);
    added.push(value);
    return id;
  }

  /** Forgets the strings from number `length` on (a write that used them was never made). */
  truncate(length: number): void {
    for (const s of this.strings.splice(length)) this.ids.delete(s);
  }

  /** A StringTable record found on open: its strings take the numbers it gives. */
  load(entry: LogEntry): void {
    const first = entry[1] as number;
    const strings = entry[2] as string[];
    for (let i = 0; i < strings.length; i++) this.strings[first + i] = strings[i]!;
  }
}

/** Whether a record body is a StringTable entry (checked on its first two bytes, without decoding). */
export function isStringTableBody(body: Uint8Array): boolean {
  return body.length > 2 && body[0] === TABLE_BODY_PREFIX[0] && body[1] === TABLE_BODY_PREFIX[1];
}

/** The entry that records the strings `added` (numbered from `first`). */
export function stringTableEntry(first: number, added: string[]): LogEntry {
  return [LogKind.StringTable, first, added];
}

/**
 * `entry` with the topic and origin of its message record replaced by their numbers in `table` (a copy: the
 * operation's own record may still be written to LMDB whole). Other entries are returned as they are.
 */
export function internEntry(table: StringTable, entry: LogEntry, added: string[]): LogEntry {
  if (entry[0] !== LogKind.SessionAppend && entry[0] !== LogKind.QueueAppend) return entry;
  const record = entry[3] as unknown[];
  const message = record[0] as unknown[];
  const topic = table.intern(message[0], added);
  const origin = table.intern(message[7], added);
  if (topic === message[0] && origin === message[7]) return entry;
  const m = message.slice();
  m[0] = topic;
  m[7] = origin;
  const r = record.slice();
  r[0] = m;
  const copy = entry.slice() as LogEntry;
  copy[3] = r;
  return copy;
}

/** Puts the strings back into a message record read from a file with table `strings` (in place). */
export function resolveStrings(record: unknown[], strings: readonly string[]): void {
  const message = record[0] as unknown[];
  for (const at of [0, 7]) {
    const value = message[at];
    if (typeof value !== 'number') continue;
    const s = strings[value];
    if (s === undefined) throw new PayloadCorruptError(`log record names string ${value}, which its file does not define`);
    message[at] = s;
  }
}
