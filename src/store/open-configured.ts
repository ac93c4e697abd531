// The store as the `storage:` configuration describes it: `wharf start` and the in-process test brokers open it
// through this one call, so the tests run the commit settings production runs and the two cannot drift.

import type { StorageConfig } from '../config/types.js';
import { Store, type StoreOptions } from './store.js';

export function configuredStoreOptions(storage: StorageConfig): StoreOptions {
  return {
    dataDir: storage.dataDir,
    commitIntervalMs: storage.commitIntervalMs,
    commitMaxBytes: storage.commitMaxBytes,
    commitMaxPerSecond: storage.commitMaxPerSecond,
    commitMinBatchBytes: storage.commitMinBatchBytes,
    inlineMaxBytes: storage.inlineMaxBytes,
    mapSizeBytes: storage.mapSizeBytes,
    minFreeDiskBytes: storage.minFreeDiskBytes,
    payloadStoreKind: storage.payloadStore,
    payloadSegmentBytes: storage.payloadSegmentBytes,
    commitLog: storage.commitLog,
  };
}

export function openConfiguredStore(storage: StorageConfig): Promise<Store> {
  return Store.open(configuredStoreOptions(storage));
}
