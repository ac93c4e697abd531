// `wharf start`: load the configuration, run the broker, stop cleanly on SIGTERM/SIGINT.

import { mkdirSync } from 'node:fs';
import { Broker } from '../broker/broker.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { WharfConfig } from '../config/types.js';
import { createLogger } from '../log/logger.js';
import { StoreError } from '../store/errors.js';
import { Store } from '../store/store.js';
import { lockDataDir } from '../store/data-dir-lock.js';
import type { StorageConfig } from '../config/types.js';
import { startMonitoring, type Monitoring } from '../admin/monitoring.js';

/** Exit code for a data directory that cannot be used as it is (corrupt, foreign, unreadable). */
export const EXIT_STORE_UNUSABLE = 3;

function openStore(storage: StorageConfig): Promise<Store> {
  return Store.open({
    dataDir: storage.dataDir,
    commitIntervalMs: storage.commitIntervalMs,
    commitMaxBytes: storage.commitMaxBytes,
    inlineMaxBytes: storage.inlineMaxBytes,
    mapSizeBytes: storage.mapSizeBytes,
    minFreeDiskBytes: storage.minFreeDiskBytes,
    payloadStoreKind: storage.payloadStore,
    payloadSegmentBytes: storage.payloadSegmentBytes,
  });
}

export interface StartOptions {
  config?: string;
  port?: number;
  wsPort?: number;
  data?: string;
  logLevel?: string;
  admin?: string;
}

export async function runStart(opts: StartOptions, version: string): Promise<number> {
  let config: WharfConfig;
  try {
    config = loadConfig({
      file: opts.config ?? process.env.WHARF_CONFIG,
      overrides: { port: opts.port, wsPort: opts.wsPort, dataDir: opts.data, logLevel: opts.logLevel, admin: opts.admin },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wharf: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  try {
    mkdirSync(config.storage.dataDir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it exists but is not a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    log.error('cannot create data directory', { dataDir: config.storage.dataDir, error: why });
    process.stderr.write(`wharf: cannot use data directory ${config.storage.dataDir}: ${why}\n`);
    return 1;
  }
  // Handlers go in before anything is logged: a signal sent as soon as "starting" or "listening" appears must not
  // kill the process with the default action; one arriving during startup stops the broker once it has started.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('starting', { version, node: process.version, dataDir: config.storage.dataDir });
  let unlock: () => void;
  try {
    unlock = lockDataDir(config.storage.dataDir);
  } catch (err) {
    log.error('cannot lock data directory', { dataDir: config.storage.dataDir, error: (err as Error).message });
    process.stderr.write(`wharf: ${(err as Error).message}\n`);
    return 1;
  }
  process.once('exit', () => unlock());
  let store: Store;
  try {
    store = await openStore(config.storage);
  } catch (err) {
    if (err instanceof StoreError) {
      // A damaged or foreign data directory is not fixed by restarting: a distinct exit code lets the service
      // manager stop retrying (systemd RestartPreventExitStatus=3).
      log.error('cannot open data directory', { dataDir: config.storage.dataDir, error: err.message });
      process.stderr.write(`wharf: ${err.message}\n`);
      return EXIT_STORE_UNUSABLE;
    }
    throw err;
  }
  // Which payload store runs, and why not the native one when auto fell back (a build failure at install).
  const { payloadStore, payloadStoreFallbackReason } = store.openReport;
  const payloadFields = { setting: config.storage.payloadStore, segmentBytes: config.storage.payloadSegmentBytes };
  if (payloadStoreFallbackReason !== undefined) {
    log.warn('native payload store not available, using the TypeScript fallback', { ...payloadFields, reason: payloadStoreFallbackReason });
  } else {
    log.info('payload store', { kind: payloadStore, ...payloadFields });
  }
  const broker = new Broker(config, log, store);
  try {
    const restored = await broker.restore();
    log.info('store opened', { ...restored, commitIntervalMs: config.storage.commitIntervalMs });
  } catch (err) {
    log.error('cannot read the store', { dataDir: config.storage.dataDir, error: (err as Error).message });
    await store.close().catch(() => undefined);
    return EXIT_STORE_UNUSABLE;
  }
  try {
    await broker.start();
  } catch (err) {
    log.error('cannot start listener', { error: (err as Error).message });
    await store.close().catch(() => undefined);
    return 1;
  }
  let monitoring: Monitoring;
  try {
    monitoring = await startMonitoring(broker, config, log, version);
  } catch (err) {
    log.error('cannot start admin listener', { error: (err as Error).message });
    process.stderr.write(`wharf: ${(err as Error).message}\n`);
    await broker.stop().catch(() => undefined);
    return 1;
  }
  const signal = await signalled;
  log.info('shutting down', { signal });
  try {
    await monitoring.stop();
    await broker.stop();
    return 0;
  } catch (err) {
    log.error('shutdown failed', { error: String(err) });
    return 1;
  }
}
