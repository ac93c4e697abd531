// An in-process broker with a real store on a data directory the caller owns: stopping it keeps the directory,
// so a new broker can be started on the same data (restart tests). The caller removes the directory at the end.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { defaultConfig, type MqttLimits, type WharfConfig } from '../../src/config/types.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { openConfiguredStore } from '../../src/store/open-configured.js';

export interface DurableBroker {
  broker: Broker;
  port: number;
  url: string;
  dataDir: string;
  config: WharfConfig;
  /** Graceful stop (the last commit window is flushed); the data directory stays. */
  stop(): Promise<void>;
}

/** A fresh, empty data directory for `startBrokerOn`. */
export function newDataDir(prefix = 'wharf-durable-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDataDir(dataDir: string): void {
  rmSync(dataDir, { recursive: true, force: true });
}

/**
 * Opens the store in `dataDir`, restores what it holds (queues, sessions, retained messages) and starts a TCP
 * listener on a free loopback port. `tweak` sees the configuration before the broker is built.
 */
export async function startBrokerOn(dataDir: string, mqtt: Partial<MqttLimits> = {}, tweak?: (c: WharfConfig) => void): Promise<DurableBroker> {
  const config = defaultConfig();
  config.listeners = [{ type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' }];
  config.storage.dataDir = dataDir;
  config.storage.minFreeDiskBytes = 0;
  Object.assign(config.mqtt, mqtt);
  tweak?.(config);
  const log = process.env.WHARF_TEST_LOG ? createLogger('debug') : silentLogger;
  const store = await openConfiguredStore(config.storage);
  const broker = new Broker(config, log, store);
  try {
    await broker.restore();
    const bound = await broker.start();
    const port = bound.find((b) => b.type === 'tcp')?.port ?? 0;
    return { broker, port, url: `mqtt://127.0.0.1:${port}`, dataDir, config, stop: () => broker.stop() };
  } catch (err) {
    await broker.stop();
    throw err;
  }
}
