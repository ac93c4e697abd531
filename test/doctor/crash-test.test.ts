// src/doctor/crash-test.ts with its real writer child: kill rounds on a store too small for one round's writes
// must still pass (the store refusing for lack of space is correct, the kill then comes at once, and the checked
// records are deleted to make room), and a store with no room at all is named as the reason, not a loss.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { crashTest, type CrashRound } from '../../src/doctor/crash-test.js';
import { defaultConfig } from '../../src/config/types.js';

const test = suite('doctor: crash test');

let dir: string;
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-crash-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

// The inline records (three in four; the fourth goes to the payload store) fill a 640 KiB map at about 1,040
// writes, counted with what the commit log still has to index, so before the 400 ms kill: at 1 MiB it took about
// 2,050, and a writer on a 2-core machine acknowledged only 1,100-1,550 in 400 ms (rounds ended on the kill).
const tiny = { ...defaultConfig().storage, mapSizeBytes: 640 * 1024, inlineMaxBytes: 64 * 1024 };

test('a store that fills within each round: every round ends on the refusal, nothing acknowledged lost', async () => {
  const check = await crashTest(dir, tiny, 4, () => 1);
  assert.is(check.verdict, 'ok', check.summary);
  const d = check.details as { rounds: CrashRound[]; acknowledged: number; lost: number };
  assert.is(d.rounds.length, 4);
  for (const r of d.rounds) {
    assert.ok(r.acknowledged > 0, JSON.stringify(d.rounds));
    assert.match(r.full ?? '', /store full/);
  }
  assert.is(d.lost, 0);
  assert.equal(readdirSync(dir), [], 'the scratch directory removed');
});

test('a store with room for no write at all: the check fails naming the lack of space', async () => {
  const none = { ...tiny, minFreeDiskBytes: 2 ** 40 };
  const check = await crashTest(dir, none, 2, () => 1);
  assert.is(check.verdict, 'fail');
  assert.match(check.summary, /could not run: no room for the test's writes on this storage \(store full: .* kept in reserve\)/);
});

test.run();
