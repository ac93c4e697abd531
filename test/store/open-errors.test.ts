import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreOpenError } from '../../src/store/errors.js';
import { Store } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const openErrors = suite('store open errors');
openErrors.after.each(removeTempDirs);

async function openError(dataDir: string): Promise<StoreOpenError> {
  const result = await Store.open({ dataDir, minFreeDiskBytes: 0 }).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  assert.instance(result, StoreOpenError, `expected a StoreOpenError, got ${String(result)}`);
  return result as StoreOpenError;
}

function dataFile(dataDir: string, contents: Buffer | string): string {
  mkdirSync(join(dataDir, 'lmdb'), { recursive: true });
  const path = join(dataDir, 'lmdb', 'data.mdb');
  writeFileSync(path, contents);
  return path;
}

openErrors('a data file of random bytes is refused with its path and what to do', async () => {
  const dataDir = tempDir('open');
  let seed = 1;
  const garbage = Buffer.from(Buffer.alloc(64 * 1024).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  const path = dataFile(dataDir, garbage);
  const error = await openError(dataDir);
  assert.is(error.path, path);
  assert.match(error.message, /not an LMDB data file/);
  assert.match(error.message, /Move the directory away/);
});

openErrors('a zero-filled or tiny data file is refused', async () => {
  const zeros = tempDir('open');
  dataFile(zeros, Buffer.alloc(16384));
  assert.match((await openError(zeros)).message, /meta page 0/);
  const tiny = tempDir('open');
  dataFile(tiny, 'hello world');
  assert.match((await openError(tiny)).message, /not an LMDB data file/);
});

openErrors('a truncated data file is refused instead of crashing the process', async () => {
  const dataDir = tempDir('open');
  const store = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await store.saveSession(session('c'));
  await Promise.all(Array.from({ length: 3000 }, (_, i) => store.appendSessionMessage('c', outgoing(message(i, 200))).durable));
  await store.close();
  const path = join(dataDir, 'lmdb', 'data.mdb');
  const full = readFileSync(path);
  writeFileSync(path, full.subarray(0, Math.floor(full.length / 2)));
  const error = await openError(dataDir);
  assert.match(error.message, /damaged .*(crashed a probe process with SIG|reading it failed)/);
});

openErrors('an LMDB environment of another program is refused', async () => {
  const dataDir = tempDir('open');
  const foreign = open({ path: join(dataDir, 'lmdb'), maxDbs: 4 });
  await foreign.openDB({ name: 'users' }).put('alice', { admin: true });
  await foreign.close();
  assert.match((await openError(dataDir)).message, /another program \(databases: users\)/);
});

openErrors('a Wharf meta record of another program or a newer format is refused', async () => {
  for (const [meta, expected] of [
    [{ createdBy: 'not-wharf', formatVersion: 1, createdAt: '' }, /not created by Wharf/],
    [{ createdBy: 'wharf', formatVersion: 99, createdAt: '' }, /newer Wharf \(store format 99/],
  ] as const) {
    const dataDir = tempDir('open');
    const env = open({ path: join(dataDir, 'lmdb'), maxDbs: 4 });
    await env.openDB({ name: 'meta' }).put('wharf', meta);
    await env.close();
    assert.match((await openError(dataDir)).message, expected);
  }
});

openErrors('a data directory that is a file, or a data file that is a directory, is refused', async () => {
  const parent = tempDir('open');
  const file = join(parent, 'not-a-dir');
  writeFileSync(file, 'x');
  assert.match((await openError(file)).message, /cannot be created/);
  const dataDir = tempDir('open');
  mkdirSync(join(dataDir, 'lmdb', 'data.mdb'), { recursive: true });
  assert.match((await openError(dataDir)).message, /not a regular file/);
});

openErrors('an empty data file (created, never written) opens as a new store', async () => {
  const dataDir = tempDir('open');
  dataFile(dataDir, '');
  const store = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  await store.saveSession(session('c'));
  await store.close();
  const reopened = await Store.open({ dataDir, minFreeDiskBytes: 0 });
  assert.is((await reopened.loadSessions()).length, 1);
  await reopened.close();
});

openErrors.run();
