import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreFullError } from '../../src/store/errors.js';
import { Store, type StoreOptions } from '../../src/store/store.js';
import { message, outgoing, removeTempDirs, session, tempDir } from './helpers.js';

const MAP_BYTES = 2 * 1024 * 1024;

function optionsWith(commitLog: boolean, logRecords: boolean): (dataDir: string) => StoreOptions {
  return (dataDir) => ({ dataDir, commitIntervalMs: 2, mapSizeBytes: MAP_BYTES, minFreeDiskBytes: 0, commitLog, logRecords });
}

/**
 * Appends 1 KiB messages in batches until one is refused and the store is full; returns the sequence numbers that
 * were stored. With the commit log the messages are in log records (store format 4) and a refusal may rest on the
 * estimate of what LMDB has not taken yet (counted twice): once it has, an exact reading can leave room for a few
 * more, which the loop takes.
 */
async function fill(s: Store, clientId: string, firstPayload: number): Promise<{ stored: number[]; error: unknown }> {
  const stored: number[] = [];
  for (let batch = 0; batch < 1000; batch++) {
    const appends = Array.from({ length: 50 }, (_, i) => s.appendSessionMessage(clientId, outgoing(message(firstPayload + batch * 50 + i, 1024))));
    const results = await Promise.allSettled(appends.map((a) => a.durable));
    const refused = results.find((r) => r.status === 'rejected');
    results.forEach((r, i) => r.status === 'fulfilled' && stored.push(appends[i]!.seq));
    if (refused === undefined) continue;
    await s.flush();
    if (s.isFull()) return { stored, error: (refused as PromiseRejectedResult).reason };
  }
  return { stored, error: undefined };
}

/** A session record larger than the one-page probe of isFull(): refused once the store is full. */
function largeSession(clientId: string): ReturnType<typeof session> {
  return session(clientId, Array.from({ length: 120 }, (_, i) => ({ topicFilter: `site/${i}/#`, qos: 1 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const, subscriptionId: undefined })));
}

// With the commit log (the default), windows near the limit go to LMDB directly (capacity.ts, nearLimit): the
// behaviour is then the same as without it.
for (const [commitLog, logRecords] of [[true, true], [true, false], [false, false]] as const) {
  const full = suite(`full store (commitLog: ${commitLog}, logRecords: ${logRecords})`);
  full.after.each(removeTempDirs);
  const options = optionsWith(commitLog, logRecords);

  full('a full map refuses new writes with StoreFullError, keeps what it had, and takes writes again after deletes', async () => {
    const dataDir = tempDir('full');
    let s = await Store.open(options(dataDir));
    await s.saveSession(session('c'));
    const first = await fill(s, 'c', 0);
    assert.instance(first.error, StoreFullError);
    assert.match(String((first.error as Error).message), /storage\.mapSizeBytes/);
    assert.ok(first.stored.length > 500, `stored before full: ${first.stored.length}`);
    assert.ok(s.isFull());
    assert.ok(s.metrics().usedBytes <= MAP_BYTES, `used ${s.metrics().usedBytes}`);

    // Everything acknowledged before is intact.
    const before = await s.loadSessionMessages('c');
    assert.equal(
      before.map((m) => m.seq),
      first.stored,
    );
    for (const m of before) assert.is(m.message.payload.length, 1024);

    // Removals are accepted while full, and make room.
    const half = first.stored.slice(0, Math.floor(first.stored.length / 2));
    await Promise.all(half.map((seq) => s.removeSessionMessage('c', seq)));
    assert.not.ok(s.isFull());
    const second = await fill(s, 'c', 100_000);
    assert.ok(second.stored.length > 100, `stored after deletes: ${second.stored.length}`);
    assert.instance(second.error, StoreFullError);
    await s.close();

    // And all of it is there after a restart.
    s = await Store.open(options(dataDir));
    const after = await s.loadSessionMessages('c');
    assert.equal(
      after.map((m) => m.seq),
      [...first.stored.slice(half.length), ...second.stored],
    );
    await s.close();
  });

  full('a session can still be deleted when the store is full', async () => {
    const s = await Store.open(options(tempDir('full')));
    await s.saveSession(session('a'));
    await s.saveSession(session('b'));
    const filled = await fill(s, 'a', 0);
    assert.instance(filled.error, StoreFullError);
    const refused = await s.saveSession(largeSession('c')).catch((err: unknown) => err);
    assert.instance(refused, StoreFullError);
    await s.deleteSession('a');
    assert.not.ok(s.isFull());
    await s.saveSession(session('c'));
    assert.equal(
      (await s.loadSessions()).map((x) => x.clientId).sort(),
      ['b', 'c'],
    );
    await s.close();
  });

  full.run();
}
