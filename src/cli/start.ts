// `wharf start`: load the configuration, run the broker, stop cleanly on SIGTERM/SIGINT.

import { mkdirSync } from 'node:fs';
import { Broker } from '../broker/broker.js';
import { ConfigError, loadConfig } from '../config/load.js';
import type { WharfConfig } from '../config/types.js';
import { createLogger } from '../log/logger.js';

export interface StartOptions {
  config?: string;
  port?: number;
  wsPort?: number;
  data?: string;
  logLevel?: string;
}

export async function runStart(opts: StartOptions, version: string): Promise<number> {
  let config: WharfConfig;
  try {
    config = loadConfig({
      file: opts.config ?? process.env.WHARF_CONFIG,
      overrides: { port: opts.port, wsPort: opts.wsPort, dataDir: opts.data, logLevel: opts.logLevel },
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
    log.error('cannot create data directory', { dataDir: config.storage.dataDir, error: (err as Error).message });
    return 1;
  }
  log.info('starting', { version, node: process.version, dataDir: config.storage.dataDir });
  const broker = new Broker(config, log);
  try {
    await broker.start();
  } catch (err) {
    log.error('cannot start listener', { error: (err as Error).message });
    return 1;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info('shutting down', { signal });
      broker.stop().then(
        () => resolve(0),
        (err) => {
          log.error('shutdown failed', { error: String(err) });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
