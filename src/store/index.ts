// The store's public surface: what broker and queue code import. Everything else in this folder is internal.

export { Store, type OpenReport, type StoreOptions } from './store.js';
export type * from './types.js';
export {
  PayloadCorruptError,
  StoreClosedError,
  StoreError,
  StoreFullError,
  StoreOpenError,
  StoreWriteError,
  type StoreErrorCode,
} from './errors.js';
export type { StoreMetricsSnapshot } from './metrics.js';
export type { PayloadRef, PayloadStore, ReconcileReport } from './payload/payload-store.js';
