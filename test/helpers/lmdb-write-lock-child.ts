// Child process of lmdb-write-lock.ts: opens the LMDB environment given as argv[2], takes its write lock (a write
// transaction) and holds it until a byte arrives on stdin (or stdin closes). Prints "locked" once it holds it.

import { readSync, writeSync } from 'node:fs';
import { open } from 'lmdb';

const env = open({ path: process.argv[2]!, maxDbs: 16 });
env.transactionSync(() => {
  writeSync(1, 'locked\n');
  // A blocking read: nothing else runs in this process while the lock is held.
  readSync(0, Buffer.alloc(1), 0, 1, null);
});
await env.close();
