// Creates the data directory (and missing parents) or says why it cannot be used, in bounded time.
// mkdirSync(..., { recursive: true }) loops forever where mkdir answers ENOENT although the parent exists
// (/proc, /sys: virtual file systems), so each missing level is created on its own, once.

import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The data directory cannot be created or written; `reason` is for the message after the path. */
export class DataDirError extends Error {
  constructor(
    readonly dataDir: string,
    readonly reason: string,
  ) {
    super(`cannot use data directory ${dataDir}: ${reason}`);
    this.name = 'DataDirError';
  }
}

function why(err: unknown, path: string): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES':
    case 'EPERM':
      return `permission denied (${path})`;
    case 'EROFS':
      return `read-only file system (${path})`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${path} exists but is not a directory`;
    case 'ENOSPC':
      return `no space left on the device (${path})`;
    default:
      return (err as Error).message;
  }
}

/** Makes sure `dataDir` exists as a writable directory; throws DataDirError otherwise. */
export function ensureDataDir(dataDir: string): void {
  const missing: string[] = [];
  // Walk up to the nearest existing ancestor; the walk ends at the root, so it is bounded by the path's depth.
  for (let p = resolve(dataDir); ; p = dirname(p)) {
    try {
      if (!statSync(p).isDirectory()) throw new DataDirError(dataDir, `${p} exists but is not a directory`);
      break;
    } catch (err) {
      if (err instanceof DataDirError) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataDirError(dataDir, why(err, p));
      missing.unshift(p);
      if (dirname(p) === p) break;
    }
  }
  for (const p of missing) {
    try {
      mkdirSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(p).isDirectory()) continue; // created meanwhile by someone else
      if (code === 'ENOENT') {
        throw new DataDirError(dataDir, `cannot create ${p}: ${dirname(p)} does not take new directories (a virtual file system such as /proc or /sys?)`);
      }
      throw new DataDirError(dataDir, `cannot create it: ${why(err, p)}`);
    }
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new DataDirError(dataDir, `not writable: ${why(err, dataDir)}`);
  }
}
