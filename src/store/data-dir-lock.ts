// One Wharf per data directory: LMDB would tolerate two processes, the payload segment files and the session
// state would not. The lock is a pid file created exclusively; one left by a dead process is taken over.

import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { isSpaceError } from './errors.js';

export class DataDirLockedError extends Error {}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dataDir`; returns the function that releases it. */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, 'wharf.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      try {
        writeSync(fd, `${process.pid}\n`);
      } catch (err) {
        rmSync(path, { force: true });
        throw isSpaceError(err) ? noRoomForLock(path) : err;
      } finally {
        closeSync(fd);
      }
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC' || (err as NodeJS.ErrnoException).code === 'EDQUOT') throw noRoomForLock(path);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && processAlive(owner)) {
        throw new DataDirLockedError(`data directory ${dataDir} is in use by another Wharf (pid ${owner}); stop it or use another --data directory`);
      }
      // Left behind by a process that is gone (kill -9, power loss): take it over.
      rmSync(path, { force: true });
    }
  }
  throw new DataDirLockedError(`data directory ${dataDir}: could not take the lock file ${path}`);
}

/** A file system filled by something else clears when space is freed: nothing of Wharf's has to go. */
function noRoomForLock(path: string): Error {
  return new Error(`cannot write the lock file ${path}: the file system has no room left. Free space on that file system (nothing in the data directory needs to go) and start again`);
}
