// The bridges of one broker: their outbox queues declared (before the listeners accept publishes), their links
// started, and stopped again on shutdown. The admin API and metrics read them from here.

import type { Broker } from '../broker/broker.js';
import type { BridgeConfig } from '../config/bridges.js';
import type { Logger } from '../log/logger.js';
import { Bridge } from './bridge.js';
import { declareOutbox } from './outbox.js';

export class BridgeSet {
  constructor(readonly bridges: Bridge[]) {}

  byName(name: string): Bridge | undefined {
    return this.bridges.find((b) => b.name === name);
  }

  start(): void {
    for (const b of this.bridges) b.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.bridges.map((b) => b.stop()));
  }
}

/** Declares every bridge's outbox; call start() once the broker listens. A broker without a store has no bridges. */
export async function createBridges(broker: Broker, configs: readonly BridgeConfig[], log: Logger): Promise<BridgeSet> {
  const engine = broker.queues;
  if (engine === null || configs.length === 0) return new BridgeSet([]);
  const bridges: Bridge[] = [];
  for (const config of configs) bridges.push(new Bridge(config, broker, engine, await declareOutbox(engine, config), log));
  return new BridgeSet(bridges);
}
