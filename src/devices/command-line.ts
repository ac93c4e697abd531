// Commands to a line device (issue 15): each message on its send topic is written to the serial port as one line
// (the payload's bytes, then the device's delimiter), in order. A standard queue, not last-value: every line
// matters. Its consumer is in-process, one line in flight at a time, and takes lines only while the port is open.

import type { LineDeviceConfig } from '../config/types.js';
import { QueueConsumer } from '../queue/consumer.js';
import type { QueueEngine } from '../queue/engine.js';
import type { HeldMessage, Queue } from '../queue/queue.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../queue/types.js';
import type { Logger } from '../log/logger.js';

export const DEFAULT_SEND_TOPIC = 'devices/{device}/send';

/** What the consumer needs of the line device (src/devices/line-device.ts). */
export interface LinePort {
  readonly writable: boolean;
  write(data: Buffer): Promise<string | undefined>;
}

export function lineQueueDefinition(device: LineDeviceConfig): QueueDefinition {
  return {
    ...DEFAULT_QUEUE_SETTINGS,
    name: `devices.${device.name}.send`,
    topicFilter: (device.sendTopic ?? DEFAULT_SEND_TOPIC).replaceAll('{device}', device.name),
    type: 'standard',
    // One line out at a time: a failed write is retried before any later line goes.
    consumerInflight: 1,
    redeliveryDelayMs: 500,
  };
}

export class LineCommandConsumer extends QueueConsumer<number> {
  private nextKey = 1;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  written = 0;

  constructor(
    queue: Queue,
    owner: object,
    private readonly device: LineDeviceConfig,
    private readonly port: LinePort,
  ) {
    super(queue, owner, 1);
  }

  get id(): string {
    return `device:${this.device.name}`;
  }

  protected transportHasRoom(): boolean {
    return !this.stopped && this.port.writable;
  }

  deliver(held: HeldMessage): void {
    const key = this.nextKey++;
    this.begin(held, key);
    this.chain = this.chain.then(() => this.write(held, key));
  }

  private async write(held: HeldMessage, key: number): Promise<void> {
    if (this.stopped) return;
    const error = await this.port.write(Buffer.concat([held.message.payload, Buffer.from(this.device.delimiter, 'utf8')]));
    // Stopping: left unacknowledged in the store, written after the restart.
    if (this.stopped) return;
    if (error === undefined) this.written++;
    this.settle(key, error === undefined, error);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }
}

/** Declares the line device's send queue and attaches its consumer; returns what the device manager keeps. */
export function startLineCommands(engine: QueueEngine, device: LineDeviceConfig, port: LinePort, log: Logger): LineCommandConsumer {
  const def = lineQueueDefinition(device);
  engine.declare(def).catch((err: unknown) => log.error('line send queue not saved', { device: device.name, error: String(err) }));
  const owner = {};
  const consumer = new LineCommandConsumer(engine.queueByName(def.name)!, owner, device, port);
  engine.addConsumer(consumer);
  return consumer;
}
