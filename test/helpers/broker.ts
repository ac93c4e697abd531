// Starts an in-process broker on free loopback ports for a test, with a temp data directory.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.js';
import { defaultConfig, type MqttLimits, type WharfConfig } from '../../src/config/types.js';
import { createLogger, silentLogger } from '../../src/log/logger.js';
import { openConfiguredStore } from '../../src/store/open-configured.js';

export interface TestBroker {
  broker: Broker;
  port: number;
  wsPort: number;
  url: string;
  wsUrl: string;
  config: WharfConfig;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Accepted from callers written when the store was optional: every test broker has one now. */
  durable?: boolean;
}

/**
 * The production setup: a real store (LMDB and the payload store) in a fresh temp data directory, opened with the
 * configured commit settings exactly as `wharf start` opens it, restored, then the listeners on free loopback
 * ports. Only the free-disk reserve is off (0), so a full test disk does not refuse writes.
 */
export async function startBroker(mqtt: Partial<MqttLimits> = {}, tweak?: (c: WharfConfig) => void, _opts: StartOptions = {}): Promise<TestBroker> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-test-'));
  const config = defaultConfig();
  config.listeners = [
    { type: 'tcp', host: '127.0.0.1', port: 0, path: '/mqtt' },
    { type: 'ws', host: '127.0.0.1', port: 0, path: '/mqtt' },
  ];
  config.storage.dataDir = dataDir;
  config.storage.minFreeDiskBytes = 0;
  Object.assign(config.mqtt, mqtt);
  tweak?.(config);
  const log = process.env.WHARF_TEST_LOG ? createLogger('debug') : silentLogger;
  const store = await openConfiguredStore(config.storage);
  const broker = new Broker(config, log, store);
  let bound;
  try {
    await broker.restore();
    bound = await broker.start();
  } catch (err) {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
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
