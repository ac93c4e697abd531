// `wharf start`: load the configuration, run the broker, stop cleanly on SIGTERM/SIGINT. Every way it can fail
// ends in one line on stderr and an exit code of StartExitCode, with whatever had started stopped again.

import v8 from 'node:v8';
import { Broker } from '../broker/broker.js';
import { ListenError } from '../broker/listen-error.js';
import { ConfigError, loadConfigWithSources, type LoadedConfig } from '../config/load.js';
import type { StorageConfig } from '../config/types.js';
import { createLogger, writeStd, type Logger } from '../log/logger.js';
import { StoreError, StoreOpenError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import { openConfiguredStore } from '../store/open-configured.js';
import { lockDataDir } from '../store/data-dir-lock.js';
import { DataDirError, ensureDataDir } from '../store/data-dir.js';
import { loadMonitoring, startMonitoring } from '../admin/monitoring.js';
import type { BridgeSet } from '../bridge/manager.js';
import { StartExitCode } from './exit-codes.js';
import type { StartArgs } from './args.js';
import { reloadAuth } from '../auth/reload.js';

/** The options of `wharf start` (and of `wharf config`, which shows what they make). */
export type StartOptions = StartArgs;

/** The configuration `wharf start` and `wharf config` use: --config or WHARF_CONFIG, then environment and flags. */
export function loadStartConfig(opts: StartOptions): LoadedConfig {
  return loadConfigWithSources({
    file: opts.config ?? (process.env.WHARF_CONFIG || undefined),
    overrides: { port: opts.port, wsPort: opts.wsPort, dataDir: opts.data, logLevel: opts.logLevel, admin: opts.admin },
  });
}

const say = (message: string): void => writeStd(process.stderr, `wharf: ${message}\n`);

/**
 * Runs the broker until SIGTERM/SIGINT. `onStarted` is called once everything configured runs (listeners, admin,
 * devices, bridges): `wharf start` gives V8's optimisers back then (startup-tiering.ts).
 */
export async function runStart(opts: StartOptions, version: string, onStarted: () => void = () => undefined): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadStartConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      say(err.message);
      return StartExitCode.Config;
    }
    throw err;
  }
  const config = loaded.config;
  const dataDir = config.storage.dataDir;
  const log = createLogger(config.log.level);
  try {
    ensureDataDir(dataDir);
  } catch (err) {
    if (!(err instanceof DataDirError)) throw err;
    log.error('cannot use data directory', { dataDir, error: err.reason });
    say(err.message);
    return StartExitCode.DataDir;
  }
  // Handlers go in before anything is logged: a signal sent as soon as "starting" or "listening" appears must not
  // kill the process with the default action; one arriving during startup stops the broker once it has started.
  const signalled = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  // The heap limit and pid show whether the board's node flags reached the broker process (src/cli/node-flags.ts).
  const heapLimitMb = Math.round(v8.getHeapStatistics().heap_size_limit / (1024 * 1024));
  log.info('starting', { version, node: process.version, pid: process.pid, heapLimitMb, dataDir, config: loaded.file ?? 'embedded default', board: loaded.board?.name ?? 'none' });
  let unlock: () => void;
  try {
    unlock = lockDataDir(dataDir);
  } catch (err) {
    log.error('cannot lock data directory', { dataDir, error: (err as Error).message });
    say((err as Error).message);
    return StartExitCode.Failure;
  }
  process.once('exit', () => unlock());
  let store: Store;
  try {
    store = await openConfiguredStore(config.storage);
  } catch (err) {
    if (err instanceof StoreError) {
      // A damaged or foreign data directory is not fixed by restarting: a distinct exit code lets the service
      // manager stop retrying (systemd RestartPreventExitStatus=3). A file system without room may clear.
      log.error('cannot open data directory', { dataDir, error: err.message });
      say(err.message);
      return err instanceof StoreOpenError && err.retryable ? StartExitCode.Failure : StartExitCode.DataDir;
    }
    throw err;
  }
  logPayloadStore(log, store, config.storage);
  const broker = new Broker(config, log, store);
  try {
    const restored = await broker.restore();
    log.info('store opened', { ...restored, commitIntervalMs: config.storage.commitIntervalMs, commitMaxPerSecond: config.storage.commitMaxPerSecond });
  } catch (err) {
    log.error('cannot read the store', { dataDir, error: (err as Error).message });
    say(`cannot read the store in ${dataDir}: ${(err as Error).message}`);
    await broker.stop().catch(() => undefined);
    return StartExitCode.DataDir;
  }
  let stopMonitoring = async (): Promise<void> => undefined;
  // Field devices (issue 14) publish into the broker in-process; a bus that cannot open is retried, never fatal.
  // Their modules (serialport among them) load only when the configuration has buses or devices (issue 13); without
  // a manager the admin API and /metrics show no devices, as with an empty one.
  const devices =
    config.buses.length > 0 || config.devices.length > 0 ? new (await import('../devices/device-manager.js')).DeviceManager(config, broker, log) : undefined;
  let bridges: BridgeSet | undefined;
  try {
    await loadMonitoring(config);
    // Outbox queues exist before the listeners take a publish they must capture; MQTT.js loads only with bridges.
    if (config.bridges.length > 0) bridges = await (await import('../bridge/manager.js')).createBridges(broker, config.bridges, log);
    await broker.start();
    devices?.start();
    stopMonitoring = (await startMonitoring(broker, config, log, version, { devices, bridges })).stop;
    bridges?.start();
    onStarted();
  } catch (err) {
    // Nothing half-started stays: listeners already bound are closed and the store is closed cleanly.
    if (err instanceof ListenError) log.error('cannot start listener', { listener: err.listener, type: err.type, host: err.host, port: err.port, error: err.reason });
    else log.error('cannot start', { error: (err as Error)?.message ?? String(err) });
    say((err as Error)?.message ?? String(err));
    await devices?.stop().catch(() => undefined);
    await bridges?.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
    return err instanceof ListenError ? StartExitCode.Listener : StartExitCode.Failure;
  }
  // SIGHUP re-reads auth.passwordFile and auth.aclFile without dropping a connection (as Mosquitto does).
  process.on('SIGHUP', () => reloadAuth(broker));
  const signal = await signalled;
  log.info('shutting down', { signal });
  try {
    await stopMonitoring();
    // Before the broker: the devices' last status documents still go into the store.
    await devices?.stop();
    await bridges?.stop();
    await broker.stop();
    return StartExitCode.Stopped;
  } catch (err) {
    log.error('shutdown failed', { error: String(err) });
    return StartExitCode.Failure;
  }
}

/** Which payload store runs, and why not the native one when auto fell back (a build failure at install). */
function logPayloadStore(log: Logger, store: Store, storage: StorageConfig): void {
  const { payloadStore, payloadStoreFallbackReason } = store.openReport;
  const fields = { setting: storage.payloadStore, segmentBytes: storage.payloadSegmentBytes };
  if (payloadStoreFallbackReason !== undefined) {
    log.warn('native payload store not available, using the TypeScript fallback', { ...fields, reason: payloadStoreFallbackReason });
  } else {
    log.info('payload store', { kind: payloadStore, ...fields });
  }
}
