// One LMDB environment in <dataDir>/lmdb/ holding the named databases of DESIGN.md "Storage (LMDB)", opened
// with the settings that make a resolved write transaction a durable one (README.md in this folder says why).

import { mkdir, open as openFile, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import { checkDataFile } from './data-file-check.js';
import { StoreOpenError } from './errors.js';
import { parseLogFileName } from './log/log-format.js';
import { highestLsnV2 } from './log/log-format-v2.js';
import { isoTime } from '../log/iso-time.js';

/** Version of the record layouts in this folder; bumped when a stored record changes incompatibly. */
/**
 * 2: the meta database may hold the commit log's checkpoint (`logCheckpoint`), and <dataDir>/log/ records
 * acknowledged operations LMDB does not hold yet: a Wharf that reads only format 1 would ignore them. A format 1
 * directory is migrated on open (nothing else changed: the meta record is rewritten).
 */
/**
 * 3: commit-log records of 14-byte headers with databases by a one-byte id (log-format.ts). A format 2 directory
 * is migrated on open when its log holds nothing LMDB lacks (a clean stop); otherwise open refuses it, since the
 * format 2 records cannot be read any more: the Wharf that wrote them applies them on its next open.
 */
/**
 * 4: LMDB may hold index entries (a log reference where a record has its message) whose messages live in commit
 * log records, and log files are kept while such records are live. A format 3 directory is migrated on open: its
 * log records replay as whole records and its LMDB records stay valid (the meta record is rewritten).
 */
/**
 * 5: LMDB may hold runs (runs/run-entry.ts): one entry for consecutive messages of a session or queue whose records
 * are in the commit log, and log records of kind MoveRun (a run's packed copy). A format 4 directory is migrated on
 * open: its index entries and whole records stay valid beside the runs new messages make.
 */
export const FORMAT_VERSION = 5;
const META_KEY = 'wharf';
const CHECKPOINT_KEY = 'logCheckpoint';
const CREATED_BY = 'wharf';

export interface MetaRecord {
  createdBy: string;
  formatVersion: number;
  createdAt: string;
}

/** The named databases. Keys are Buffers from keys.ts; values are msgpack records (Buffers stay Buffers). */
export interface Databases {
  /** 'wharf' -> MetaRecord. */
  meta: Database;
  /** textKey(clientId) -> session record. */
  sessions: Database;
  /** seqKey(session id, seq) -> outgoing message record. */
  sessionMessages: Database;
  /** packetIdKey(session id, packet id) -> time received (QoS 2 PUBLISH awaiting PUBREL). */
  incomingQos2: Database;
  /** textKey(topic) -> retained message record. */
  retained: Database;
  /** idKey(queue id) -> queue definition. */
  queues: Database;
  /** seqKey(queue id, seq) -> queue message record. */
  queueMessages: Database;
  /** idTextKey(queue id, consumer id) -> consumer state. */
  consumers: Database;
}

const NAMES: Record<keyof Databases, string> = {
  meta: 'meta',
  sessions: 'sessions',
  sessionMessages: 'session-messages',
  incomingQos2: 'incoming-qos2',
  retained: 'retained',
  queues: 'queues',
  queueMessages: 'queue-messages',
  consumers: 'consumers',
};

export interface EnvironmentOptions {
  dataDir: string;
  /** Initial LMDB map size. lmdb-js grows the map by itself; the store's cap on used space is separate. */
  mapSizeBytes: number;
}

const REMEDY = 'Point storage.dataDir at an empty directory, or move this one away, to start with a new store';

export class StoreEnvironment {
  private constructor(
    readonly path: string,
    readonly root: RootDatabase,
    readonly dbs: Databases,
    readonly meta: MetaRecord,
  ) {}

  static async open(options: EnvironmentOptions): Promise<StoreEnvironment> {
    const path = join(options.dataDir, 'lmdb');
    try {
      await mkdir(path, { recursive: true });
    } catch (err) {
      const reason = `the directory cannot be created (${(err as Error).message})`;
      throw new StoreOpenError(path, reason, 'Check storage.dataDir and its permissions', { cause: err });
    }
    await checkDataFile(join(path, 'data.mdb'));
    let root: RootDatabase;
    try {
      // trackMetrics is missing from lmdb's typings; it is read by open.js (MDB_TRACK_METRICS).
      const lmdbOptions: RootDatabaseOptionsWithPath & { trackMetrics: boolean } = {
        path,
        mapSize: options.mapSizeBytes,
        maxDbs: 16,
        // Durability: the commit promise must mean "fsync'd". overlappingSync (the Linux default) resolves at
        // commit and syncs afterwards, noSync never syncs, writemaps sync the whole map. See README.md.
        overlappingSync: false,
        noSync: false,
        noMetaSync: false,
        useWritemap: false,
        // One transaction per commit window, started by the commit scheduler; with event-turn batching lmdb-js
        // also leaves an unhandled rejected promise behind when a commit fails.
        eventTurnBatching: false,
        cache: false,
        // Counts the pages LMDB writes (getStats().pagesWritten): the store's own write figure.
        trackMetrics: true,
      };
      root = open(lmdbOptions);
    } catch (err) {
      throw new StoreOpenError(path, `LMDB could not open it (${(err as Error).message})`, REMEDY, { cause: err });
    }
    try {
      const { dbs, meta } = await StoreEnvironment.openDatabases(root, path);
      return new StoreEnvironment(path, root, dbs, meta);
    } catch (err) {
      await root.close().catch(() => undefined);
      if (err instanceof StoreOpenError) throw err;
      throw new StoreOpenError(path, `its databases cannot be read (${(err as Error).message})`, REMEDY, { cause: err });
    }
  }

  private static async openDatabases(root: RootDatabase, path: string): Promise<{ dbs: Databases; meta: MetaRecord }> {
    const existing = new Set<string>();
    for (const name of root.getKeys({})) existing.add(String(name));
    const openAll = (): Databases => {
      const dbs = {} as Record<keyof Databases, Database>;
      for (const [field, name] of Object.entries(NAMES) as [keyof Databases, string][]) {
        dbs[field] = field === 'meta' ? root.openDB({ name }) : root.openDB({ name, keyEncoding: 'binary' });
      }
      return dbs;
    };
    if (existing.size === 0) {
      // A new (or never initialised) environment: create every database and the meta record in one commit.
      const meta: MetaRecord = { createdBy: CREATED_BY, formatVersion: FORMAT_VERSION, createdAt: isoTime() };
      const dbs = root.transactionSync(() => {
        const opened = openAll();
        opened.meta.putSync(META_KEY, meta);
        return opened;
      });
      await syncDirectory(path);
      await syncDirectory(join(path, '..'));
      return { dbs, meta };
    }
    if (!existing.has(NAMES.meta)) {
      const names = [...existing].slice(0, 5).join(', ');
      throw new StoreOpenError(path, `an LMDB environment of another program (databases: ${names})`, REMEDY);
    }
    const metaDb = root.openDB({ name: NAMES.meta });
    const meta = metaDb.get(META_KEY) as Partial<MetaRecord> | undefined;
    if (meta?.createdBy !== CREATED_BY || typeof meta.formatVersion !== 'number') {
      throw new StoreOpenError(path, 'an LMDB environment not created by Wharf (no Wharf meta record)', REMEDY);
    }
    if (meta.formatVersion > FORMAT_VERSION) {
      throw new StoreOpenError(
        path,
        `written by a newer Wharf (store format ${meta.formatVersion}, this version reads ${FORMAT_VERSION})`,
        'Run the newer Wharf version, or move the directory away to start with a new store',
      );
    }
    if (meta.formatVersion < 1) {
      const reason = `store format ${meta.formatVersion} is older than 1 and has no migration`;
      throw new StoreOpenError(path, reason, REMEDY);
    }
    if (meta.formatVersion === 2) {
      const checkpoint = (metaDb.get(CHECKPOINT_KEY) as number | undefined) ?? 0;
      const unapplied = await highestLsnInV2Log(join(path, '..', 'log'));
      if (unapplied > checkpoint) {
        throw new StoreOpenError(
          path,
          `store format 2 with commit-log records LMDB does not hold yet (up to ${unapplied}, checkpoint ${checkpoint}), which this version cannot read`,
          'Start the previous Wharf version once on this directory and stop it cleanly (it applies its log), then start this one',
        );
      }
    }
    if (meta.formatVersion < FORMAT_VERSION) {
      // 1 -> 2 -> 3: same LMDB records; the new format number keeps an older Wharf away from a log it cannot read.
      // Format 2 log files left (all covered) end the new scan at their first record and are reused.
      const migrated: MetaRecord = { ...(meta as MetaRecord), formatVersion: FORMAT_VERSION };
      await root.transaction(() => {
        metaDb.put(META_KEY, migrated);
      });
      return { dbs: openAll(), meta: migrated };
    }
    return { dbs: openAll(), meta: meta as MetaRecord };
  }

  /**
   * Runs fn inside one LMDB write transaction; resolves once the transaction is committed and fsync'd.
   * A failed commit rejects with the underlying error (errno or LMDB code in `code`): lmdb-js reports it as
   * "Commit failed" with the cause in a second promise, which is always consumed here so it never goes unhandled.
   */
  async transaction(fn: () => void): Promise<void> {
    try {
      await this.root.transaction(fn);
    } catch (err) {
      const cause = (err as { commitError?: Promise<unknown> }).commitError;
      if (cause === undefined) throw err;
      throw await cause.then(
        () => err,
        (reason: unknown) => reason,
      );
    }
  }

  /** LSN of the last commit-log record whose operation LMDB holds (0: none). */
  checkpoint(): number {
    const value = this.dbs.meta.get(CHECKPOINT_KEY) as number | undefined;
    return typeof value === 'number' ? value : 0;
  }

  /** Inside a transaction: records that LMDB holds every logged operation up to `lsn`. */
  putCheckpoint(lsn: number): void {
    this.dbs.meta.put(CHECKPOINT_KEY, lsn);
  }

  /** Inside a transaction: runs fn in a child transaction, so its writes all happen or (if it throws) none do. */
  atomically<T>(fn: () => T): T {
    return this.root.transactionSync(fn);
  }

  /**
   * Space in data.mdb: `usedBytes` of pages holding live data (B-tree and overflow pages of every database, the
   * free list), `fileBytes` up to the last page ever allocated; the difference is free pages LMDB reuses.
   */
  space(): { usedBytes: number; fileBytes: number } {
    let pages = 0;
    let pageSize = 4096;
    let lastPage = 0;
    let first = true;
    for (const db of Object.values(this.dbs) as Database[]) {
      const stats = db.getStats() as Record<string, number> & { root: Record<string, number>; free: Record<string, number> };
      pages += stats.treeBranchPageCount! + stats.treeLeafPageCount! + stats.overflowPages!;
      if (first) {
        pageSize = stats.pageSize!;
        lastPage = stats.lastPageNumber!;
        for (const shared of [stats.root, stats.free]) {
          pages += shared.treeBranchPageCount! + shared.treeLeafPageCount! + shared.overflowPages!;
        }
        first = false;
      }
    }
    return { usedBytes: pages * pageSize, fileBytes: (lastPage + 1) * pageSize };
  }

  /** Bytes LMDB has written to data.mdb since open: data pages, plus one page per meta-page update (commit). */
  bytesWritten(): number {
    const stats = this.root.getStats() as { pagesWritten?: number; txns?: number; pageSize?: number };
    return ((stats.pagesWritten ?? 0) + (stats.txns ?? 0)) * (stats.pageSize ?? 4096);
  }

  async close(): Promise<void> {
    await this.root.close();
  }
}

/** fsync of a directory: makes a new file's directory entry survive a power cut. */
export async function syncDirectory(path: string): Promise<void> {
  if (!(await stat(path)).isDirectory()) return;
  const handle = await openFile(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The highest LSN among the format 2 records of a log directory (0 if there is none). */
async function highestLsnInV2Log(dir: string): Promise<number> {
  let highest = 0;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const id = parseLogFileName(name);
    if (id !== undefined) highest = Math.max(highest, highestLsnV2(id, await readFile(join(dir, name))));
  }
  return highest;
}
