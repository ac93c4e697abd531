// Starts what monitoring needs beside a running broker: the figures' monitor, the $SYS publisher and the admin
// HTTP listener, as the configuration says; and stops them again before the broker stops.

import type { BridgeSet } from '../bridge/manager.js';
import type { Broker } from '../broker/broker.js';
import type { WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { BrokerMonitor } from '../metrics/monitor.js';
import type { DeviceStatusSource } from '../devices/status.js';
import type { SysPublisher } from '../metrics/sys-topics.js';
import type { AdminServer } from './server.js';

// The admin server (node:http, its routes, the status page) and the $SYS publisher are loaded only when configured:
// a broker with admin.enabled false does not carry their code (issue 13).

export interface Monitoring {
  monitor: BrokerMonitor;
  /** null when admin.enabled is false. */
  admin: AdminServer | null;
  /** The bound admin address (port 0 in the configuration resolved). */
  adminAddress: { host: string; port: number } | null;
  sys: SysPublisher | null;
  stop(): Promise<void>;
}

export interface MonitoringOptions {
  /** Rates and event-loop sampling period; tests shorten it. */
  sampleIntervalMs?: number;
  /** The device manager's status, for /metrics and /api/v1/devices; without it both show no devices. */
  devices?: DeviceStatusSource;
  /** Upstream bridges, for GET /api/v1/bridges and their metrics. */
  bridges?: BridgeSet;
}

/**
 * Loads the modules the configuration needs before the broker's listeners open: a client that sees the MQTT port
 * accept may ask the admin API at once, and must not find it still loading.
 */
export async function loadMonitoring(config: WharfConfig): Promise<void> {
  if (config.metrics.enabled && config.sys.intervalMs > 0) await import('../metrics/sys-topics.js');
  if (config.admin.enabled) await import('./server.js');
}

export async function startMonitoring(broker: Broker, config: WharfConfig, log: Logger, version: string, options: MonitoringOptions = {}): Promise<Monitoring> {
  const monitor = new BrokerMonitor(broker, version, { enabled: config.metrics.enabled, sampleIntervalMs: options.sampleIntervalMs });
  monitor.start();
  // $SYS carries the same figures as /metrics: with metrics off there is nothing to publish.
  let sys: SysPublisher | null = null;
  let admin: AdminServer | null = null;
  let adminAddress: Monitoring['adminAddress'] = null;
  try {
    if (config.metrics.enabled && config.sys.intervalMs > 0) {
      sys = new (await import('../metrics/sys-topics.js')).SysPublisher(broker, monitor, config.sys.intervalMs);
    }
    if (config.admin.enabled) {
      admin = new (await import('./server.js')).AdminServer({ broker, monitor, config, log, devices: options.devices, bridges: options.bridges });
      adminAddress = await admin.start();
    }
  } catch (err) {
    monitor.stop();
    throw err;
  }
  sys?.start();
  return {
    monitor,
    admin,
    adminAddress,
    sys,
    async stop() {
      sys?.stop();
      monitor.stop();
      await admin?.stop();
    },
  };
}
