// End to end: `wharf start` on a data disk that another program filled while Wharf was down, with commit-log
// records LMDB does not hold yet (a kill -9). Opening must replay them and finds no room: one line saying to
// free space, exit code 1 (it clears; the systemd unit restarts on it, unlike 3), and after space is freed the
// same data directory starts. What was acknowledged is checked at the store level (commit-log-crash.test.ts).
// Needs mount(8) permission (root): skipped loudly without it, a failure under CI=true.

import { rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, runWharf, Workspace } from '../helpers/broker-process.js';
import { fillDisk, mountTmpfs, tmpfsUnavailable } from '../helpers/full-disk-kit.js';
import { requireAvailable } from '../helpers/tools.js';
import { runWriterUntilKilled } from '../store/kill-writer.js';

const test = suite('e2e: wharf start on a data disk filled by something else');

/** StartExitCode.Failure: may clear by itself, so a service manager restarts. */
const EXIT_FAILURE = 1;
const WRITER = fileURLToPath(new URL('../store/fixtures/log-writer.js', import.meta.url));


/** `wharf start` on `dataDir` stops by itself with exit code 1 and one stderr line matching `line`. */
async function refusedToStart(ws: Workspace, dataDir: string, line: RegExp): Promise<void> {
  const r = await runWharf(ws.args(await freePort(), await freePort(), dataDir), { timeoutMs: 15_000 });
  const out = `\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.is(r.timedOut, false, `exits by itself${out}`);
  assert.is(r.code, EXIT_FAILURE, out);
  // lmdb-js prints a failed commit's error to stderr itself (and its C code a "Write error" line): Wharf's own
  // message is the one line starting with "wharf:", and the last.
  const ours = r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('wharf:'));
  assert.is(ours.length, 1, `one line of Wharf's on stderr${out}`);
  assert.match(ours[0]!, line, out);
  assert.ok(r.stderr.trimEnd().endsWith(ours[0]!), `Wharf's line comes last${out}`);
}

const onTmpfs = requireAvailable(test, tmpfsUnavailable());

onTmpfs('no room to replay the commit log: one line, exit 1; the same directory starts once space is freed', async () => {
  const disk = mountTmpfs('32m');
  if ('error' in disk) throw new Error(disk.error);
  const ws = Workspace.create(undefined, '');
  try {
    const dataDir = join(disk.dir, 'data');
    let acks = 0;
    // LMDB never indexes before the kill: opening must write every acknowledged record into it.
    await runWriterUntilKilled(WRITER, [dataDir, '1', '1000000000', '600000'], () => acks >= 6000, (w) => void (w[0] === 'ack' && acks++));
    const filler = join(disk.dir, 'filler');
    fillDisk(filler);
    // Not even the lock file fits.
    await refusedToStart(ws, dataDir, /^wharf: cannot write the lock file .*wharf\.pid: the file system has no room left\. Free space on that file system/);
    // Room for the lock file, not for the pages the replay needs (6,000 records of 256 B to 5 KB: with runs, store format 5, 1,500 needed less than 64 KiB of LMDB pages).
    truncateSync(filler, statSync(filler).size - 64 * 1024);
    await refusedToStart(ws, dataDir, /^wharf: cannot open the data store at .*: the file system has no room to bring it up to date \(.*\d+ bytes free\)\. Free space on that file system/);
    rmSync(filler);
    const broker = await ws.start({ dataDir });
    assert.ok(broker.running());
    assert.equal(await broker.stop(), { code: 0, signal: null });
  } finally {
    await ws.dispose();
    disk.umount();
  }
});

test.run();
