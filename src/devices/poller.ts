// One Modbus device's poll loop: every pollInterval the read plan's requests go to the bus scheduler (all at once:
// the scheduler interleaves them with the other devices of the line), the answers are decoded into point readings,
// and the state document built from them is published into the broker. A publish that cannot be stored (the
// store refuses, or the previous one is still waiting for its commit) is a dropped reading, counted; polling goes on.

import type { ModbusDeviceConfig } from '../config/types.js';
import type { LocalPublisher } from '../broker/local-publisher.js';
import type { DeviceLink } from './bus-scheduler.js';
import type { ReadRequest, ReadResult } from './modbus/pdu.js';

/** What the poller needs of src/devices/read-plan.ts (ReadPlan). */
export interface PollPlan<R extends Omit<ReadRequest, 'unitId'>> {
  reads(): readonly R[];
  settle(read: R, result: ReadResult): PointReadingLike[];
  /** Points left out of the plan (refused alone with 0x02/0x03), as error readings. */
  badReadings(): PointReadingLike[];
}
export type PointReadingLike = { point: string; value: number | boolean | string } | { point: string; error: string };

/** What the poller needs of src/devices/state-document.ts (StateDocumentBuilder). */
export interface DocumentBuilder {
  build(readings: readonly PointReadingLike[], readAtMs: number): Buffer | null;
}

export type DeviceHealth = 'starting' | 'online' | 'offline' | 'degraded';

export interface PollCounters {
  cycles: number;
  readingsPublished: number;
  readingsDropped: number;
}

export interface PollerEvents {
  /** After every cycle: the device's health from its link and its readings, and the last error if any. */
  onCycle(health: DeviceHealth, error: string | undefined, readings: readonly PointReadingLike[]): void;
  /** A reading that could not be stored (counted already), with why. */
  onDropped(reason: string): void;
}

export class Poller<R extends Omit<ReadRequest, 'unitId'>> {
  readonly counters: PollCounters = { cycles: 0, readingsPublished: 0, readingsDropped: 0 };
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private cycleRunning: Promise<void> | undefined;
  private publishing = false;
  private readonly topic: string;
  /** Why the last reading was not stored; cleared by the next one that is. */
  lastDropped: string | undefined;

  constructor(
    private readonly device: ModbusDeviceConfig,
    private readonly link: DeviceLink,
    private readonly plan: PollPlan<R>,
    private readonly builder: DocumentBuilder,
    private readonly publisher: LocalPublisher,
    private readonly events: PollerEvents,
  ) {
    this.topic = device.topic.replaceAll('{device}', device.name);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.cycleRunning = this.cycle().finally(() => {
        this.cycleRunning = undefined;
        // The next cycle starts one interval after this one started, or at once if this one took longer:
        // cycles never overlap, and a slow line stretches the interval instead of queueing cycles up.
        this.schedule(Math.max(0, started + this.device.pollIntervalMs - Date.now()));
      });
    }, delayMs);
  }

  /** One poll cycle; exposed so tests and `wharf devices` can drive a cycle on demand. */
  async cycle(): Promise<void> {
    const reads = this.plan.reads();
    const results = await Promise.all(reads.map((r) => this.link.read(r)));
    const readAtMs = Date.now();
    const readings: PointReadingLike[] = [];
    for (let i = 0; i < reads.length; i++) for (const r of this.plan.settle(reads[i]!, results[i]!)) readings.push(r);
    // Points no longer read still say why in every document and in the status (once each).
    const bad = this.plan.badReadings();
    if (bad.length > 0) {
      const seen = new Set(readings.map((r) => r.point));
      for (const r of bad) if (!seen.has(r.point)) readings.push(r);
    }
    this.counters.cycles++;
    const failed = readings.find((r): r is { point: string; error: string } => 'error' in r);
    const health: DeviceHealth = this.link.state === 'offline' ? 'offline' : failed ? 'degraded' : 'online';
    this.events.onCycle(health, health === 'offline' ? this.link.lastError : failed ? `${failed.point}: ${failed.error}` : undefined, readings);
    const doc = this.builder.build(readings, readAtMs);
    if (doc !== null) this.publish(doc);
  }

  private publish(doc: Buffer): void {
    // One publish in flight per device: while the store is behind, later readings are dropped rather than
    // held, so memory stays bounded whatever the poll rate.
    if (this.publishing) {
      this.drop('the previous reading is still waiting for the store');
      return;
    }
    this.publishing = true;
    this.publisher
      .publish(this.topic, doc, { qos: this.device.qos, retain: this.device.retain })
      .then((outcome) => {
        if (outcome.kind === 'stored') {
          this.counters.readingsPublished++;
          this.lastDropped = undefined;
        } else this.drop(outcome.kind === 'refused' ? `refused: ${outcome.reason} (${outcome.detail})` : `store write failed: ${outcome.error}`);
      })
      .catch((err: unknown) => this.drop(`publish failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (this.publishing = false));
  }

  private drop(reason: string): void {
    this.counters.readingsDropped++;
    this.lastDropped = reason;
    this.events.onDropped(reason);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.cycleRunning;
  }
}
