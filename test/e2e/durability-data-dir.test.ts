// End to end, issue 3 "restart tests": `wharf start` on a data directory it cannot use (damaged files, a file
// that is not Wharf's, a path that is not a directory, no write permission) must exit by itself, quickly, with
// exit code 3 and a message that names the directory and says what to do. It must not hang, crash with a
// signal (under systemd that is a crash loop), nor touch the damaged files (they may be all there is to recover).

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { open } from 'lmdb';
import { Workspace, type RunResult } from '../helpers/broker-process.js';
import { DrainSubscriber } from '../helpers/drain-subscriber.js';
import { LeanPublisher } from '../helpers/lean-publisher.js';
import { RawClient } from '../helpers/raw-client.js';

const test = suite('e2e durability: an unusable data directory is a clear error, not a hang or a crash loop');

/** Catches a hang, not a slow exit: generous for a loaded 2-core machine (a refusal takes well under a second idle). */
const EXIT_WITHIN_MS = 15_000;
/** Words of a message that says what to do about the data directory. */
/** The README's promise for an unusable data directory, for systemd's `RestartPreventExitStatus=3`. */
const EXIT_DATA_DIR_UNUSABLE = 3;
const REMEDY = /\b(move|remove|delete|rename|restore|empty|back ?up|backup)\b/i;

/** Regular files under `dir`, recursively, as paths. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

/** SHA-256 of each file but LMDB's lock file (lock.mdb), which LMDB itself resets whenever it opens an environment. */
const digests = (files: string[]): Record<string, string> =>
  Object.fromEntries(files.filter((f) => basename(f) !== 'lock.mdb').map((f) => [f, createHash('sha256').update(readFileSync(f)).digest('hex')]));

/**
 * Runs a broker on the workspace's data directory long enough to store something (a persistent session with a
 * subscription and queued QoS 1 messages, a retained message), stops it with SIGTERM, and returns the files
 * it left in the data directory.
 */
async function populate(ws: Workspace): Promise<string[]> {
  const broker = await ws.start();
  const closers: Array<() => void> = [];
  try {
    const { sub } = await DrainSubscriber.connect(broker.port, 'dd-sub', 5);
    closers.push(() => sub.end());
    await sub.subscribe([{ topic: 'dd/#', qos: 1 }]);
    await sub.disconnect();
    const pub = await LeanPublisher.connect(broker.port, 'dd-pub');
    closers.push(() => pub.close());
    const r = await pub.run({ topic: 'dd/data', window: 64, payloadBytes: 256, maxMessages: 200 });
    assert.is(r.acked.size, 200, 'messages queued before the stop');
    const raw = (await RawClient.connected(broker.port, { clientId: 'dd-retain' }, 5)).client;
    closers.push(() => raw.end());
    raw.send({ cmd: 'publish', topic: 'dd-status', payload: Buffer.from('on'), qos: 1, messageId: 1, retain: true, dup: false });
    await raw.next('puback');
  } finally {
    for (const c of closers) c();
  }
  assert.equal(await broker.stop(), { code: 0, signal: null }, 'the broker stops with exit code 0');
  const files = filesUnder(ws.dataDir);
  assert.ok(files.length > 0, `the broker stored its state in files under the data directory ${ws.dataDir}; found none`);
  return files;
}

/** The LMDB data file (LMDB's fixed name data.mdb) somewhere under the data directory. */
function lmdbDataFile(files: string[]): string {
  const found = files.filter((f) => basename(f) === 'data.mdb');
  assert.is(found.length, 1, `one LMDB data file (data.mdb) under the data directory; files: ${files.join(', ')}`);
  return found[0]!;
}

/** `wharf start` refused to run: by itself, in time, with exit code 3, naming `path`, saying `what`. */
function assertRefused(r: RunResult, path: string, what: RegExp): void {
  const out = `\noutput:\n${r.output}`;
  assert.is(r.timedOut, false, `wharf start exits by itself within ${EXIT_WITHIN_MS} ms instead of hanging or serving${out}`);
  assert.is(r.signal, null, `wharf start exits with an error code, not killed by ${r.signal} (a crash loop under systemd)${out}`);
  assert.is(r.code, EXIT_DATA_DIR_UNUSABLE, `wharf start exits ${EXIT_DATA_DIR_UNUSABLE} (RestartPreventExitStatus=3); got ${r.code}${out}`);
  assert.ok(r.output.includes(path), `the message names ${path}${out}`);
  assert.match(r.output, what);
}

/** Runs `fn` with a fresh workspace, removed afterwards (with any broker still running). */
async function withWorkspace(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = Workspace.create();
  try {
    await fn(ws);
  } finally {
    await ws.dispose();
  }
}

test('random bytes over every file of the data directory -> exit 3 naming the directory and what to do; files untouched', () =>
  withWorkspace(async (ws) => {
    const files = await populate(ws);
    for (const f of files) writeFileSync(f, randomBytes(Math.max(statSync(f).size, 4096)));
    const before = digests(files);
    const r = await ws.run(EXIT_WITHIN_MS);
    assertRefused(r, ws.dataDir, REMEDY);
    assert.equal(digests(files), before, 'the damaged files are left as they were');
  }),
);

test('a foreign file in place of the LMDB data file -> exit 3 naming the directory and what to do; file untouched', () =>
  withWorkspace(async (ws) => {
    const dataFile = lmdbDataFile(await populate(ws));
    // The first bytes of an SQLite database, then noise: a file of some other program.
    writeFileSync(dataFile, Buffer.concat([Buffer.from('SQLite format 3\0'), randomBytes(16384 - 16)]));
    const before = digests([dataFile]);
    const r = await ws.run(EXIT_WITHIN_MS);
    assertRefused(r, ws.dataDir, REMEDY);
    assert.equal(digests([dataFile]), before, 'the foreign file is left as it was');
  }),
);

test('the LMDB data file cut to half its size -> exit 3 (no SIGBUS) naming the directory and what to do', () =>
  withWorkspace(async (ws) => {
    const dataFile = lmdbDataFile(await populate(ws));
    truncateSync(dataFile, Math.floor(statSync(dataFile).size / 2));
    const before = digests([dataFile]);
    const r = await ws.run(EXIT_WITHIN_MS);
    assertRefused(r, ws.dataDir, REMEDY);
    assert.equal(digests([dataFile]), before, 'the truncated file is left as it was');
  }),
);

test("another application's LMDB environment in place of Wharf's -> exit 3 naming the directory; its data untouched", () =>
  withWorkspace(async (ws) => {
    const dataFile = lmdbDataFile(await populate(ws));
    const envDir = dirname(dataFile);
    for (const f of filesUnder(envDir)) rmSync(f);
    const foreign = open({ path: envDir });
    await foreign.put('device-42', { firmware: '1.2.3' });
    await foreign.close();
    const before = digests(filesUnder(envDir).filter((f) => basename(f) === 'data.mdb'));
    const r = await ws.run(EXIT_WITHIN_MS);
    assertRefused(r, ws.dataDir, REMEDY);
    assert.equal(digests(Object.keys(before)), before, "the other application's data file is left as it was");
  }),
);

test('a data directory path that is a regular file -> exit 3 naming it and saying it is not a directory', () =>
  withWorkspace(async (ws) => {
    const file = join(ws.dir, 'not-a-directory');
    writeFileSync(file, 'some file\n');
    const r = await ws.run(EXIT_WITHIN_MS, { dataDir: file });
    assertRefused(r, file, /not a directory/i);
  }),
);

test('a data directory without write permission -> exit 3 naming it and saying permission is denied', () =>
  withWorkspace(async (ws) => {
    const dir = ws.subdir('read-only');
    chmodSync(dir, 0o555);
    // root writes anywhere: the broker then runs as "nobody", for whom the directory is read-only too.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) ws.openToOthers();
    const r = await ws.run(EXIT_WITHIN_MS, { dataDir: dir, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
    assertRefused(r, dir, /permission|not writable|read-only|EACCES|EPERM/i);
  }),
);

test('a second Wharf on the same data directory exits 1 naming the directory and the running pid; the first keeps serving', () =>
  withWorkspace(async (ws) => {
    const first = await ws.start();
    try {
      const r = await ws.run(EXIT_WITHIN_MS);
      assert.is(r.timedOut, false, r.output);
      assert.is(r.code, 1, r.output);
      assert.ok(r.output.includes(ws.dataDir), r.output);
      assert.match(r.output, new RegExp(`in use by another Wharf \\(pid ${first.child.pid}\\)`));
      assert.ok(first.running());
    } finally {
      await first.stop();
    }
    // A lock left by a process killed with SIGKILL does not block the next start.
    const second = await ws.start();
    await second.crash();
    const third = await ws.start();
    assert.ok(third.running());
    await third.stop();
  }),
);

test.run();
