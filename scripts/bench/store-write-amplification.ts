// Write amplification inside the store (issue 13): the bytes the commit log and LMDB (with the payload files)
// write per message, for one writer with a bounded number of appends outstanding to an offline session, with the
// commit log on (messages in its records with LMDB holding runs of them or an entry each, or whole LMDB records
// too) and off. Unlike scenario 13's whole-machine
// disk counter, this counts only what the store itself writes, so other processes on the machine do not pollute
// it; the disk's own journal is not in it. The last column is the whole machine's count (/proc/diskstats) over the
// same time, journal and zeros written ahead (prepared log files) included: on a quiet machine, what the disk
// took for the store.
//
// usage: node dist/scripts/bench/store-write-amplification.js [--messages 20000] [--window 64] [--size 256]

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { defaultConfig } from '../../src/config/types.js';
import { Store } from '../../src/store/index.js';
import { configuredStoreOptions } from '../../src/store/open-configured.js';
import { readFlags } from './cli-args.js';
import { deviceWriteBytes } from './disk-stats.js';

const USAGE =
  'usage: node dist/scripts/bench/store-write-amplification.js [--messages N] [--window W] [--size BYTES]\n' +
  '  --messages  appends per variant (default 20000)\n' +
  '  --window    appends outstanding at once, as a publisher window (default 64)\n' +
  '  --size      payload bytes (default 256)';

/** Each variant stops after this long even if not all its messages were made durable. */
const TIME_BOUND_MS = 120_000;

interface Args {
  messages: number;
  window: number;
  size: number;
}

/** What LMDB holds for a message whose record is in the log. */
type Layout = 'runs' | 'entries' | 'records';

interface Row {
  commitLog: boolean;
  layout: Layout;
  durable: number;
  msgPerSec: number;
  logBytesPerMsg: number;
  lmdbBytesPerMsg: number;
  logWA: number;
  lmdbWA: number;
  storeWA: number;
  /** /proc/diskstats over the pump and the flush, all processes. */
  diskWA: number | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { messages: 20_000, window: 64, size: 256 };
  readFlags(argv, USAGE, (flag, value) => {
    if (flag === '--messages') a.messages = value.int(100, 1_000_000);
    else if (flag === '--window') a.window = value.int(1, 65_535);
    else if (flag === '--size') a.size = value.int(1, 1_000_000);
    else return false;
    return true;
  });
  return a;
}

/** Appends `count` messages keeping `window` outstanding; resolves with how many became durable. */
function pump(store: Store, args: Args): Promise<number> {
  let sent = 0;
  let durable = 0;
  const deadline = performance.now() + TIME_BOUND_MS;
  return new Promise((resolve, reject) => {
    const more = (): void => {
      while (sent < args.messages && sent - durable < args.window && performance.now() < deadline) {
        const payload = Buffer.alloc(args.size, sent & 0xff);
        sent++;
        const message = { topic: `site/1/sensor/${sent % 100}`, payload, qos: 1 as const, retain: false, properties: undefined, expiresAt: 0, origin: 'publisher-0001' };
        store.appendSessionMessage('sub', { message, qos: 1, retain: false, subscriptionIds: undefined, packetId: 0, released: false }).durable.then(() => {
          durable++;
          if (durable === sent && (sent === args.messages || performance.now() >= deadline)) resolve(durable);
          else more();
        }, reject);
      }
    };
    more();
  });
}

async function measure(commitLog: boolean, args: Args, layout: Layout = 'records'): Promise<Row> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'wharf-store-wa-'));
  try {
    // The embedded default's commit settings, as `wharf start` opens the store (configuredStoreOptions).
    const storage = { ...defaultConfig().storage, dataDir, commitLog, minFreeDiskBytes: 0 };
    const store = await Store.open({ ...configuredStoreOptions(storage), logRecords: layout !== 'records', indexRuns: layout === 'runs' });
    await store.saveSession({ clientId: 'sub', protocolVersion: 5, sessionExpiryInterval: 3600, disconnectedAt: Date.now(), subscriptions: [] });
    await store.flush();
    const before = store.metrics();
    const disk0 = deviceWriteBytes();
    const t0 = performance.now();
    const durable = await pump(store, args);
    const seconds = (performance.now() - t0) / 1000;
    await store.flush(); // the LMDB index commits that the log's windows still owe
    const after = store.metrics();
    const disk = deviceWriteBytes() - disk0;
    await store.close();
    const log = after.logBytesWritten - before.logBytesWritten;
    const lmdb = after.bytesWritten - before.bytesWritten - log;
    const payload = durable * args.size;
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      commitLog,
      layout,
      durable,
      msgPerSec: Math.round(durable / seconds),
      logBytesPerMsg: Math.round(log / durable),
      lmdbBytesPerMsg: Math.round(lmdb / durable),
      logWA: round(log / payload),
      lmdbWA: round(lmdb / payload),
      storeWA: round((log + lmdb) / payload),
      diskWA: Number.isFinite(disk) ? round(disk / payload) : null,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows = [await measure(true, args, 'runs'), await measure(true, args, 'entries'), await measure(true, args), await measure(false, args)];
  console.log(`\n| ${args.messages} x ${args.size} B, window ${args.window} | msg/s | log B/msg | LMDB + payload files B/msg | log WA | LMDB WA | store WA | disk WA (whole machine) |`);
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    const label = !r.commitLog
      ? 'commit log off'
      : r.layout === 'runs'
        ? 'commit log on, messages in log records, LMDB holds runs (the default, store format 5)'
        : r.layout === 'entries'
          ? 'commit log on, messages in log records, an LMDB entry each (indexRuns: false, store format 4)'
          : 'commit log on, whole records in LMDB (logRecords: false)';
    const note = r.durable < args.messages ? ` (${r.durable} durable within ${TIME_BOUND_MS / 1000} s)` : '';
    console.log(`| ${label}${note} | ${r.msgPerSec} | ${r.logBytesPerMsg} | ${r.lmdbBytesPerMsg} | ${r.logWA} | ${r.lmdbWA} | ${r.storeWA} | ${r.diskWA ?? 'n/a'} |`);
  }
  console.log(`\n${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(2)}; bytes the store wrote (StoreMetricsSnapshot); disk WA: sectors written by the whole machine meanwhile`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
