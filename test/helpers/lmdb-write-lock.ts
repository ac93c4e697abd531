// Holds the write lock of a broker's LMDB environment from another process: the broker's commits then wait, as
// on a disk that cannot keep up, for as long as the test wants and without any timing. LMDB's writer lock is
// shared by every process that opens the environment, so the broker's commit blocks in its write thread while
// its event loop goes on.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./lmdb-write-lock-child.js', import.meta.url));
const LOCK_TIMEOUT_MS = 10_000;

export interface WriteLock {
  /** Lets the broker's commits through again; resolves once the holder has exited. Safe to call twice. */
  release(): Promise<void>;
}

/** Resolves once the write lock of the environment in `lmdbDir` (`<dataDir>/lmdb`) is held. */
export async function holdLmdbWriteLock(lmdbDir: string): Promise<WriteLock> {
  const child = spawn(process.execPath, [CHILD, lmdbDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`no LMDB write lock within ${LOCK_TIMEOUT_MS} ms: ${output}`))), LOCK_TIMEOUT_MS);
    const fail = () => (clearTimeout(timer), reject(new Error(`the LMDB lock holder exited: ${output}`)));
    child.once('close', fail);
    child.stderr.on('data', (d) => (output += d));
    child.stdout.on('data', (d) => {
      output += d;
      if (!output.includes('locked\n')) return;
      clearTimeout(timer);
      child.off('close', fail);
      resolve();
    });
  });
  return {
    release() {
      if (child.stdin.writable) child.stdin.end('x');
      return exited;
    },
  };
}
