// The syscall order behind a commit-log acknowledgement, as strace sees it: no "ack" line leaves the writer
// before the log write holding it was followed by an fdatasync of that log file. The writer prints a line only
// after the store's promise resolved, so an acknowledgement that came before the log's fdatasync (or a log
// written without one) shows up here. Needs strace (apt-get install strace); skipped without it.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { removeTempDirs, tempDir } from './helpers.js';

const WRITER = fileURLToPath(new URL('./fixtures/log-writer.js', import.meta.url));
const HAS_STRACE = spawnSync('strace', ['-V']).status === 0;

interface Event {
  call: string;
  path: string;
  text: string;
}

/** Completed system calls in the order they returned (strace -f: unfinished calls complete at their "resumed" line). */
function completedCalls(trace: string): Event[] {
  const pending = new Map<string, { call: string; rest: string }>();
  const events: Event[] = [];
  const finish = (call: string, rest: string): void => {
    const path = /^\d+<([^>]*)>/.exec(rest)?.[1] ?? '';
    events.push({ call, path, text: rest });
  };
  for (const line of trace.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const [, pid, body] = m;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(body!);
    if (resumed !== null) {
      const started = pending.get(pid!);
      pending.delete(pid!);
      if (started !== undefined) finish(started.call, started.rest + resumed[2]);
      continue;
    }
    const call = /^(\w+)\((.*)$/.exec(body!);
    if (call === null) continue;
    if (call[2]!.endsWith('<unfinished ...>')) pending.set(pid!, { call: call[1]!, rest: call[2]! });
    else finish(call[1]!, call[2]!);
  }
  return events;
}

const order = suite('commit log: syscall order');
order.after(removeTempDirs);

order('every acknowledgement follows the fdatasync of the log write that holds it', async () => {
  if (!HAS_STRACE) {
    console.log('  (skipped: strace not installed)');
    return;
  }
  const dir = tempDir('log-strace');
  const trace = join(dir, 'trace.txt');
  const dataDir = join(dir, 'data');
  // Bounded: the writer runs about 2 s under strace, then timeout(1) kills it.
  spawnSync('timeout', ['-s', 'KILL', '4', 'strace', '-f', '-y', '-s', '48', '-o', trace, '-e', 'trace=pwritev,pwrite64,writev,write,fdatasync',
    process.execPath, WRITER, dataDir, '1', '1000000000', '600000'], { stdio: 'ignore', timeout: 30_000 });
  const events = completedCalls(readFileSync(trace, 'utf8'));
  let logWrites = 0;
  let logSyncs = 0;
  let acks = 0;
  // Per log file: the file being prepared ahead (zeros, log-preallocate.ts) has its own write + fdatasync jobs.
  const perFile = new Map<string, { writes: number; syncs: number }>();
  for (const e of events) {
    if (e.path.endsWith('.wlg')) {
      const file = perFile.get(e.path) ?? { writes: 0, syncs: 0 };
      perFile.set(e.path, file);
      if (e.call === 'fdatasync') logSyncs++, file.syncs++;
      else if (e.call.startsWith('pwrite')) logWrites++, file.writes++;
      continue;
    }
    if ((e.call === 'write' || e.call === 'writev') && /^1</.test(e.text) && e.text.includes('ack ')) {
      acks++;
      // One write at most per file may be in flight (the next window's) when an acknowledgement is printed.
      assert.ok(logSyncs >= 1, `ack ${acks} before any log fdatasync`);
      for (const [path, file] of perFile) {
        assert.ok(file.syncs >= file.writes - 1, `ack ${acks} after ${file.writes} writes to ${path} but ${file.syncs} fdatasyncs`);
      }
    }
  }
  assert.ok(acks >= 50, `the writer acknowledged enough under strace (${acks})`);
  assert.ok(logWrites >= 10 && logSyncs >= logWrites - 1, `log writes ${logWrites}, syncs ${logSyncs}`);
});

order.run();
