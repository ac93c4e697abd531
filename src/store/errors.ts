// Typed errors of the store: what failed, on which path, and what an operator or the broker can do about it.
// The broker maps StoreFullError to "Quota exceeded" (0x97) on MQTT 5 and to closing the connection on 3.1.1.

/** LMDB and OS error numbers the store tells apart (lmdb.h, errno.h on Linux). */
export const LmdbCode = {
  MapFull: -30792,
  TxnFull: -30788,
  PageFull: -30786,
  Corrupted: -30796,
  PageNotFound: -30797,
  Invalid: -30793,
  VersionMismatch: -30794,
  Panic: -30795,
} as const;

const ENOSPC = 28;
const EFBIG = 27;
const EDQUOT = 122;

export type StoreErrorCode = 'OPEN_FAILED' | 'FULL' | 'WRITE_FAILED' | 'CLOSED' | 'CORRUPT_PAYLOAD' | 'UNKNOWN_SESSION';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The data directory cannot be used: not an LMDB environment, not Wharf's, a newer format, unreadable. */
export class StoreOpenError extends StoreError {
  /** True when the cause may clear by itself (no room on the file system): trying again later is right. */
  readonly retryable: boolean;

  constructor(
    readonly path: string,
    readonly reason: string,
    readonly remedy: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super('OPEN_FAILED', `cannot open the data store at ${path}: ${reason}. ${remedy}`, options);
    this.retryable = options?.retryable ?? false;
  }
}

/** The store refused or failed a write for lack of space; nothing committed before is affected. */
export class StoreFullError extends StoreError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('FULL', `store full: ${reason}`, options);
  }
}

/** A commit failed for a reason other than space (I/O error, a bug in an operation). */
export class StoreWriteError extends StoreError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('WRITE_FAILED', `store write failed: ${reason}`, options);
  }
}

export class StoreClosedError extends StoreError {
  constructor() {
    super('CLOSED', 'the store is closed');
  }
}

/** A payload read back from the payload store does not match its checksum or its reference. */
export class PayloadCorruptError extends StoreError {
  constructor(reason: string) {
    super('CORRUPT_PAYLOAD', `payload corrupt: ${reason}`);
  }
}

/** Numeric errno / LMDB code carried by an lmdb-js or Node error, if any. */
export function errorNumber(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown; errno?: unknown }).code;
  if (typeof code === 'number') return code;
  const errno = (err as { errno?: unknown }).errno;
  if (typeof errno === 'number') return Math.abs(errno);
  if (code === 'ENOSPC') return ENOSPC;
  if (code === 'EDQUOT') return EDQUOT;
  if (code === 'EFBIG') return EFBIG;
  return undefined;
}

/** True for the errors that mean "no room": map full, disk full, quota, file size limit. */
export function isSpaceError(err: unknown): boolean {
  const n = errorNumber(err);
  return (
    n === LmdbCode.MapFull ||
    n === LmdbCode.TxnFull ||
    n === LmdbCode.PageFull ||
    n === ENOSPC ||
    n === EDQUOT ||
    n === EFBIG
  );
}

/** Turns a failed write (LMDB commit, payload flush) into the typed error callers see. */
export function writeFailure(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (isSpaceError(err)) return new StoreFullError(`${what}: ${detail}`, { cause: err });
  return new StoreWriteError(`${what}: ${detail}`, { cause: err });
}
