// Starts what monitoring needs beside a running broker: the figures' monitor, the $SYS publisher and the admin
// HTTP listener, as the configuration says; and stops them again before the broker stops.

import type { BridgeSet } from '../bridge/manager.js';
import type { Broker } from '../broker/broker.js';
import type { WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { BrokerMonitor } from '../metrics/monitor.js';
import { SysPublisher } from '../metrics/sys-topics.js';
import { AdminServer } from './server.js';
import type { DeviceStatusSource } from '../devices/status.js';

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

export async function startMonitoring(broker: Broker, config: WharfConfig, log: Logger, version: string, options: MonitoringOptions = {}): Promise<Monitoring> {
  const monitor = new BrokerMonitor(broker, version, { enabled: config.metrics.enabled, sampleIntervalMs: options.sampleIntervalMs });
  monitor.start();
  // $SYS carries the same figures as /metrics: with metrics off there is nothing to publish.
  const sys = config.metrics.enabled && config.sys.intervalMs > 0 ? new SysPublisher(broker, monitor, config.sys.intervalMs) : null;
  let admin: AdminServer | null = null;
  let adminAddress: Monitoring['adminAddress'] = null;
  if (config.admin.enabled) {
    admin = new AdminServer({ broker, monitor, config, log, devices: options.devices, bridges: options.bridges });
    try {
      adminAddress = await admin.start();
    } catch (err) {
      monitor.stop();
      throw err;
    }
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
