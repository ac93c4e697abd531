// What the admin routes work with: the broker, its monitor, the configuration and the log.

import type { Broker } from '../broker/broker.js';
import type { WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { BrokerMonitor } from '../metrics/monitor.js';
import type { DeviceStatusSource } from '../devices/status.js';
import type { BridgeSet } from '../bridge/manager.js';

export interface AdminContext {
  broker: Broker;
  monitor: BrokerMonitor;
  config: WharfConfig;
  log: Logger;
  /** The device manager's status (issue 14); absent when no devices run. */
  devices?: DeviceStatusSource;
  /** Upstream bridges (none when the configuration has no `bridges:`). */
  bridges?: BridgeSet;
}
