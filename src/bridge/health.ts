// Whether a bridge is working, not just connected: `healthy` needs an acknowledgement from the upstream within
// stallTimeout while the outbox holds messages, or (outbox empty) any packet from it, such as a PINGRESP, within
// keep alive. State changes are announced (retained status messages).

import type { BridgeConfig } from '../config/bridges.js';

export type BridgeState = 'connecting' | 'connected' | 'healthy' | 'disconnected' | 'stopped';

export class BridgeHealth {
  state: BridgeState = 'stopped';
  since = Date.now();
  private up = false;
  connectedAt = 0;
  lastHeardAt = 0;
  lastAckAt = 0;
  /** Last time the link moved (connected, first message in flight, an acknowledgement): stall detection. */
  lastProgressAt = 0;
  lastReason: string | undefined;
  private readonly busyWindowMs: number;
  private readonly idleWindowMs: number;

  constructor(
    config: BridgeConfig,
    /** True while the outbox holds messages (or some are in flight). */
    private readonly busy: () => boolean,
    private readonly changed: (state: BridgeState) => void,
  ) {
    this.busyWindowMs = config.stallTimeoutMs > 0 ? config.stallTimeoutMs : 30_000;
    this.idleWindowMs = config.keepAliveMs > 0 ? Math.floor(config.keepAliveMs * 1.5) + 1000 : this.busyWindowMs;
  }

  get healthy(): boolean {
    return this.state === 'healthy';
  }

  start(): void {
    this.set('connecting');
  }

  stop(): void {
    this.up = false;
    this.set('stopped');
  }

  heard(now: number): void {
    this.lastHeardAt = now;
  }

  progress(now: number): void {
    this.lastProgressAt = now;
  }

  acknowledged(now: number): void {
    this.lastAckAt = now;
    this.lastHeardAt = now;
    this.lastProgressAt = now;
    if (this.state !== 'healthy') this.tick(now);
  }

  connected(now: number): void {
    this.up = true;
    this.connectedAt = now;
    this.lastHeardAt = now;
    this.lastProgressAt = now;
    this.lastReason = undefined;
    this.tick(now);
  }

  disconnected(reason: string): void {
    this.up = false;
    this.lastReason = reason;
    this.set('disconnected');
  }

  tick(now: number): void {
    if (!this.up) return;
    const ok = this.busy() ? this.lastAckAt >= this.connectedAt && now - this.lastAckAt < this.busyWindowMs : now - this.lastHeardAt < this.idleWindowMs;
    this.set(ok ? 'healthy' : 'connected');
  }

  private set(state: BridgeState): void {
    if (state === this.state) return;
    this.state = state;
    this.since = Date.now();
    this.changed(state);
  }
}
