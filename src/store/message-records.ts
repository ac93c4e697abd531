// How messages are laid out inside LMDB records: short field names (they are repeated in every record and
// count toward write amplification), the payload inline up to storage.inlineMaxBytes or else a payload-store
// reference. Shared by session messages, retained messages and queue messages.

import { Packr } from 'msgpackr';
import type { CommitScheduler } from './commit-scheduler.js';
import type { Databases, StoreEnvironment } from './environment.js';
import { unpackLogRef, type CommitLog, type LogRef, type StoredLogRef } from './log/commit-log.js';
import { LogKind, type LogEntry } from './log/log-entry.js';
import { resolveStrings } from './log/log-strings.js';
import { packRef, unpackRef, type PayloadRef, type PayloadStore, type StoredPayloadRef } from './payload/payload-store.js';
import { PayloadCorruptError } from './errors.js';
import type { MessageIndex, ScannedMessage } from './runs/message-index.js';
import { recordRef, type RunEntry } from './runs/run-entry.js';
import type { QoS, StoredMessage, StoredMessageProperties } from './types.js';

/** What the tables share: the databases, the scheduler, the payload store. */
export interface StoreContext {
  env: StoreEnvironment;
  dbs: Databases;
  scheduler: CommitScheduler;
  payloads: PayloadStore;
  /** The commit log's files: index entries of small messages refer to records in them (store format 4). */
  log: CommitLog;
  /** Small appends that reach LMDB through the log become index entries (StoreOptions.logRecords). */
  logRecords: boolean;
  /** ...and those of one session or queue that follow each other share one entry, a run (StoreOptions.indexRuns). */
  indexRuns: boolean;
  /** How the message databases are read and written (runs/message-index.ts). */
  messageIndexes: { sessionMessages: MessageIndex; queueMessages: MessageIndex };
  inlineMaxBytes: number;
  /** Last payload-store reference of a payload Buffer: a fan-out to many sessions stores the payload once. */
  refCache: WeakMap<Buffer, PayloadRef>;
}

/**
 * A message as stored: a msgpack array, cheaper than a map with field names in every record.
 * [topic, qos, retain 0/1, inline payload | null, payload ref | null, MQTT 5 properties | null, expiresAt, origin]
 */
export type MessageRecord = [
  topic: string,
  qos: QoS,
  retain: number,
  payload: Buffer | null,
  ref: StoredPayloadRef | null,
  properties: StoredMessageProperties | null,
  expiresAt: number,
  origin: string,
];

/** Records that hold a message are arrays with the message first, so removals find payload references uniformly. */
export type HoldsMessage = [MessageRecord, ...unknown[]];

export interface EncodedMessage {
  record: MessageRecord;
  /** Payload-store reference staged (or shared) for this record: freed again if the write fails. */
  ref: PayloadRef | undefined;
  /** Approximate encoded size of the record. */
  bytes: number;
}

const RECORD_OVERHEAD_BYTES = 32;

/**
 * Builds the record; payloads above inlineMaxBytes are staged in the payload store. Throws the StoreError the
 * write would be refused with (StoreFullError, StoreClosedError) before staging anything.
 */
export function encodeMessage(msg: StoredMessage, ctx: StoreContext): EncodedMessage {
  const refusal = ctx.scheduler.refusal(RECORD_OVERHEAD_BYTES + msg.topic.length + msg.payload.length);
  if (refusal !== undefined) throw refusal;
  let ref: PayloadRef | undefined;
  let inline: Buffer | null = null;
  let stored: StoredPayloadRef | null = null;
  let bytes = RECORD_OVERHEAD_BYTES + msg.topic.length + msg.origin.length;
  if (msg.payload.length <= ctx.inlineMaxBytes) {
    inline = msg.payload;
    bytes += msg.payload.length;
  } else {
    ref = ctx.refCache.get(msg.payload);
    if (ref === undefined || !ctx.payloads.addRef(ref)) {
      ref = ctx.payloads.append(msg.payload);
      ctx.refCache.set(msg.payload, ref);
    }
    stored = packRef(ref);
  }
  if (msg.properties !== undefined) bytes += 64;
  const retain = msg.retain ? 1 : 0;
  const record: MessageRecord = [msg.topic, msg.qos, retain, inline, stored, msg.properties ?? null, msg.expiresAt, msg.origin];
  return { record, ref, bytes };
}

export async function decodeMessage(record: MessageRecord, payloads: PayloadStore): Promise<StoredMessage> {
  return decodeInline(record) ?? withPayload(record, await payloads.read(unpackRef(record[4]!)));
}

/**
 * The message of a record whose payload is inline (or empty), without a promise: reading a backlog decodes
 * hundreds of these per batch. undefined when the payload is in the payload store.
 */
export function decodeInline(record: MessageRecord): StoredMessage | undefined {
  const inline = record[3];
  if (inline === null && record[4] !== null) return undefined;
  return withPayload(record, inline ?? Buffer.alloc(0));
}

function withPayload(record: MessageRecord, payload: Buffer): StoredMessage {
  const [topic, qos, retain, , , properties, expiresAt, origin] = record;
  return { topic, payload, qos, retain: retain === 1, properties: properties ?? undefined, expiresAt, origin };
}

/**
 * An LMDB index entry (store format 4): a record whose message lives in the commit log, with a LogRef where a
 * whole record has its MessageRecord. A MessageRecord starts with its topic (a string), a LogRef with a number.
 */
export function isIndexEntry(value: unknown): value is [StoredLogRef, ...unknown[]] {
  return Array.isArray(value) && Array.isArray(value[0]) && typeof value[0][0] === 'number';
}

/** The log record an index entry refers to, if `value` is one. */
export function logRefOf(value: unknown): LogRef | undefined {
  return isIndexEntry(value) ? unpackLogRef(value[0]) : undefined;
}

const logUnpackr = new Packr({ useRecords: false });

/**
 * The whole record (as a record without the log would hold it) that a log record holds: the value of a session
 * message append (its packet id and release state as appended) or of a queue append (delivery count 0).
 */
export function loggedRecord(body: Buffer, strings: readonly string[] = []): HoldsMessage {
  const entry = logUnpackr.unpack(body) as LogEntry;
  // A copy's body had its strings resolved when it was made (moveBody).
  if (entry[0] === LogKind.MoveRecord) return loggedRecord(entry[5] as Buffer);
  if (entry[0] === LogKind.SessionAppend || entry[0] === LogKind.QueueAppend) {
    resolveStrings(entry[3] as unknown[], strings);
    return entry[3] as HoldsMessage;
  }
  throw new Error(`log record of kind ${String(entry[0])} holds no message`);
}

/**
 * The body a compaction copy carries: the record's own, with its topic and origin back as strings (the copy goes
 * to another file, whose string table does not have them; the old file goes away).
 */
export function moveBody(body: Buffer, strings: readonly string[]): Buffer {
  const entry = logUnpackr.unpack(body) as LogEntry;
  if (entry[0] !== LogKind.SessionAppend && entry[0] !== LogKind.QueueAppend) return body;
  const message = (entry[3] as unknown[])[0] as unknown[];
  if (typeof message[0] !== 'number' && typeof message[7] !== 'number') return body;
  resolveStrings(entry[3] as unknown[], strings);
  return Buffer.from(logUnpackr.pack(entry));
}

/** Reads the whole records of index entries from the log (records close together with one read). */
export async function readLoggedRecords(log: CommitLog, refs: readonly LogRef[]): Promise<HoldsMessage[]> {
  if (refs.length === 0) return [];
  const bodies = await log.readMany(refs);
  return bodies.map((body, i) => loggedRecord(body, log.stringsOf(refs[i]!.file)));
}

/** The bodies a run's packed record holds (a MoveRun entry), one per record of the run, empty for a removed one. */
export function packedBodies(body: Buffer): Buffer[] {
  const entry = logUnpackr.unpack(body) as LogEntry;
  if (entry[0] !== LogKind.MoveRun || !Array.isArray(entry[5])) throw new Error(`log record of kind ${String(entry[0])} is not a packed run`);
  return entry[5] as Buffer[];
}

/**
 * The whole record of each scanned message that the log holds (an index entry's, a run's), read with as few reads
 * as the records' places allow; undefined for a whole record in LMDB (its value is the record).
 */
export async function readScannedRecords(log: CommitLog, found: readonly ScannedMessage[]): Promise<(HoldsMessage | undefined)[]> {
  const out: (HoldsMessage | undefined)[] = new Array<HoldsMessage | undefined>(found.length);
  const refs: LogRef[] = [];
  const at: number[] = [];
  const packed = new Map<RunEntry, number[]>();
  for (let i = 0; i < found.length; i++) {
    const row = found[i]!;
    if (row.run !== undefined) {
      if (row.run.packed === undefined) {
        refs.push(recordRef(row.run, row.index));
        at.push(i);
      } else {
        const rows = packed.get(row.run);
        if (rows === undefined) packed.set(row.run, [i]);
        else rows.push(i);
      }
      continue;
    }
    const ref = logRefOf(row.value);
    if (ref !== undefined) {
      refs.push(ref);
      at.push(i);
    }
  }
  const records = await readLoggedRecords(log, refs);
  for (let j = 0; j < at.length; j++) out[at[j]!] = records[j];
  for (const [run, rows] of packed) {
    const bodies = packedBodies(await log.read(run.packed!));
    for (const i of rows) {
      const row = found[i] as { index: number };
      const body = bodies[row.index];
      if (body === undefined || body.length === 0) throw new PayloadCorruptError(`packed run record ${run.packed!.file}:${run.packed!.offset} has no body for record ${row.index}`);
      out[i] = loggedRecord(body);
    }
  }
  return out;
}

/** The payload-store reference held by a stored record, if any. */
export function refOf(value: unknown): PayloadRef | undefined {
  const stored = Array.isArray(value) && Array.isArray(value[0]) ? (value[0] as MessageRecord)[4] : null;
  return stored === null || stored === undefined ? undefined : unpackRef(stored);
}
