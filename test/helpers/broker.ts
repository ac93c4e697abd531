// Starts an in-process broker on free loopback ports for a test, with a temp data directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { defaultConfig, type MqttLimits, type WharfConfig } from '../../src/config/types.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { Store } from '../../src/store/store.js';

export interface TestBroker {
  broker: Broker;
  port: number;
  wsPort: number;
  url: string;
  wsUrl: string;
  config: WharfConfig;
  stop(): Promise<void>;
}

/**
 * `durable: true` opens a real store (LMDB in the temp data directory): needed for queues, and for anything
 * that must survive a restart. Without it the broker runs in memory, as the protocol tests need.
 */
export async function startBroker(mqtt: Partial<MqttLimits> = {}, tweak?: (c: WharfConfig) => void, opts: { durable?: boolean } = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-test-'));
  const config = defaultConfig();
  config.listeners = [
    { type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' },
    { type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt' },
  ];
  config.storage.dataDir = dataDir;
  Object.assign(config.mqtt, mqtt);
  tweak?.(config);
  const log = process.env.WHARF_TEST_LOG ? createLogger('debug') : silentLogger;
  const store = opts.durable
    ? await Store.open({ dataDir, commitIntervalMs: config.storage.commitIntervalMs, mapSizeBytes: config.storage.mapSizeBytes, minFreeDiskBytes: 0 })
    : null;
  const broker = new Broker(config, log, store);
  if (store) await broker.restore();
  const bound = await broker.start();
  const port = bound.find((b) => b.type === 'tcp')?.port ?? 0;
  const wsPort = bound.find((b) => b.type === 'ws')?.port ?? 0;
  return {
    broker,
    port,
    wsPort,
    url: `mqtt://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${wsPort}/mqtt`,
    config,
    async stop() {
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
