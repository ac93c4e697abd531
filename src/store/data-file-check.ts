// Looks at an LMDB data file before lmdb-js maps it. lmdb-js crashes the process (SIGSEGV, SIGBUS) on a file
// that is not LMDB or is shorter than its meta pages say, which under systemd is a crash loop; this check turns
// those cases into a StoreOpenError that names the file and the fix.

import { open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { nodeChildProcess } from '../lazy-builtins.js';
import { StoreOpenError } from './errors.js';

const MDB_MAGIC = 0xbeefc0de;
const MDB_DATA_VERSION = 2;
const P_META = 0x08;
/**
 * Layout of the meta page on 64-bit builds (and 32-bit builds with MDB_VL32, where page numbers are 64-bit):
 * page header (pgno u64, txnid u64, pad u16, flags u16, lower/upper u32) = 24 bytes, then MDB_meta:
 * magic u32, version u32, address u64, mapsize u64, two MDB_db of 48 bytes (the first one's md_pad holds the
 * page size), last page u64 at 144, txnid u64 at 152.
 * On 32-bit builds (lmdb-js's linux-arm prebuild, armv7l gateways) size_t fields are 4 bytes: page header 16,
 * magic at 16, MDB_db of 28 bytes from 32, last page u32 at 88, txnid u32 at 92 (seen in a file written there).
 * LMDB files are not portable between the two: a file of the other word size is refused (bad magic number).
 */
const LAYOUT_64 = { flagsAt: 18, magicAt: 24, versionAt: 28, pageSizeAt: 48, lastPageAt: 144, txnidAt: 152, wordBytes: 8 };
const LAYOUT_32 = { flagsAt: 10, magicAt: 16, versionAt: 20, pageSizeAt: 32, lastPageAt: 88, txnidAt: 92, wordBytes: 4 };
const LAYOUT = ['arm', 'ia32', 'mips', 'mipsel', 'ppc'].includes(process.arch) ? LAYOUT_32 : LAYOUT_64;
const { flagsAt: FLAGS_AT, magicAt: MAGIC_AT, versionAt: VERSION_AT, pageSizeAt: PAGE_SIZE_AT, lastPageAt: LAST_PAGE_AT, txnidAt: TXNID_AT } = LAYOUT;
const MIN_PAGE = 512;

const REMEDY =
  'Move the directory away (or restore it from a backup) and start again; Wharf creates a new, empty store ' +
  'when the directory is empty';

interface MetaPage {
  pageSize: number;
  lastPage: number;
  txnid: bigint;
}

function readMeta(page: Buffer, path: string, which: number): MetaPage {
  const fail = (what: string): never => {
    throw new StoreOpenError(path, `not an LMDB data file (meta page ${which}: ${what})`, REMEDY);
  };
  if (page.length < TXNID_AT + LAYOUT.wordBytes) fail('too short');
  if ((page.readUInt16LE(FLAGS_AT) & P_META) === 0) fail('no meta page flag');
  if (page.readUInt32LE(MAGIC_AT) !== MDB_MAGIC) fail('bad magic number');
  const version = page.readUInt32LE(VERSION_AT) & 0xffff;
  if (version !== MDB_DATA_VERSION) {
    throw new StoreOpenError(path, `LMDB data format version ${version}, this build reads ${MDB_DATA_VERSION}`, REMEDY);
  }
  const pageSize = page.readUInt32LE(PAGE_SIZE_AT);
  if (pageSize < MIN_PAGE || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) fail(`page size ${pageSize}`);
  if (LAYOUT.wordBytes === 4) return { pageSize, lastPage: page.readUInt32LE(LAST_PAGE_AT), txnid: BigInt(page.readUInt32LE(TXNID_AT)) };
  return { pageSize, lastPage: Number(page.readBigUInt64LE(LAST_PAGE_AT)), txnid: page.readBigUInt64LE(TXNID_AT) };
}

/**
 * Throws StoreOpenError unless `path` is missing, empty, or an LMDB data file whose meta pages are intact.
 * A file shorter than the pages its newest meta page claims is either truncated (mapping it crashes the
 * process) or ends in free pages LMDB never wrote (valid): a throwaway child process then reads every database
 * in it, and a crash or an error there becomes a StoreOpenError here instead of a crash of the broker.
 */
export async function checkDataFile(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    const reason = `the data file cannot be read (${(err as Error).message})`;
    throw new StoreOpenError(path, reason, 'Check its permissions and the disk', { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new StoreOpenError(path, 'the data file is not a regular file', REMEDY);
    if (stat.size === 0) return; // created, never written: LMDB initialises it
    const first = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(first, 0, first.length, 0);
    const meta0 = readMeta(first.subarray(0, bytesRead), path, 0);
    if (stat.size < 2 * meta0.pageSize) throw new StoreOpenError(path, `the data file is truncated (${stat.size} bytes)`, REMEDY);
    const second = Buffer.alloc(4096);
    await handle.read(second, 0, second.length, meta0.pageSize);
    const meta1 = readMeta(second, path, 1);
    const newest = meta1.txnid > meta0.txnid ? meta1 : meta0;
    const needed = (newest.lastPage + 1) * newest.pageSize;
    if (stat.size < needed) {
      await handle.close();
      handle = undefined;
      const problem = await probeInChild(dirname(path));
      if (problem !== undefined) {
        const reason = `the data file is damaged (${stat.size} bytes, meta page says ${needed}; ${problem})`;
        throw new StoreOpenError(path, reason, REMEDY);
      }
    }
  } finally {
    await handle?.close();
  }
}

/**
 * Script run by the probe: open read-only, walk every named database to its last entry. The names are read
 * before any database is opened: openDB during the walk of the root's keys ends that walk's read transaction
 * under its cursor (MDB_BAD_TXN, or a SIGSEGV in cursor_close), which refused healthy stores as damaged.
 */
const PROBE_SCRIPT = `
const { open } = await import(process.argv[1]);
const root = open({ path: process.argv[2], readOnly: true, overlappingSync: false, maxDbs: 64 });
const names = Array.from(root.getKeys({}), String);
for (const name of names) {
  const db = root.openDB({ name, keyEncoding: 'binary', encoding: 'binary' });
  for (const entry of db.getRange({})) void entry;
}
await root.close();
`;

/** Reads the whole environment in a child process; undefined if that worked, else what went wrong. */
function probeInChild(envDir: string): Promise<string | undefined> {
  const lmdbUrl = import.meta.resolve('lmdb');
  return new Promise((resolve) => {
    const child = nodeChildProcess().spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, lmdbUrl, envDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    child.on('error', (err) => resolve(`probe could not run: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (signal !== null) resolve(`reading it crashed a probe process with ${signal}`);
      else if (code !== 0) resolve(`reading it failed: ${probeError(stderr)}`);
      else resolve(undefined);
    });
  });
}

/** The error line of a probe's stderr (Node prints the source line, the error, its stack and its version). */
function probeError(stderr: string): string {
  const lines = stderr.trim().split('\n').map((line) => line.trim());
  return lines.find((line) => /^[A-Za-z]*Error\b/.test(line)) ?? lines.slice(-3).join(' ');
}
