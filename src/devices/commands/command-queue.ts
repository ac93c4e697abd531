// One Modbus device's commands (issue 15): its durable last-value queue on `<command topic>/#`, keyed by point,
// declared as an ordinary queue (so `wharf queues`, /metrics and the admin API show it); the admission check that
// refuses bad commands before they are queued; the split of a multi-point command into one queued message per
// point; and the in-process consumer that writes them. See README "Commands to devices".

import { randomUUID } from 'node:crypto';
import type { LocalPublisher } from '../../broker/local-publisher.js';
import type { ModbusDeviceConfig, ResolvedPoint } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import type { Message } from '../../protocol/message.js';
import type { QueueEngine } from '../../queue/engine.js';
import type { Refusal } from '../../queue/errors.js';
import type { Departure, HeldMessage } from '../../queue/queue.js';
import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../../queue/types.js';
import { DEFAULT_COMMAND_TOPIC } from '../../config/device-commands.js';
import type { DeviceLink } from '../bus-scheduler.js';
import type { CommandCounters } from '../status.js';
import { CommandConsumer, pointOf } from '../command-consumer.js';
import { parseCommand, parseValue, type PointCommand } from './parse.js';
import { COMMAND_ID_PROPERTY, COMMAND_POINTS_PROPERTY, Receipts } from './receipts.js';

/** The consumer-state record of a command queue that holds its multi-point commands' partial results. */
const RECEIPTS_STATE = 'device-receipts';

/** The name pattern of the devices' command queues (a template's instances: `{device}` is the device's name). */
export const COMMAND_QUEUE_PATTERN = 'devices.{device}.commands';

/** The command queue of a device, as named in `wharf queues` and the admin API. */
export function commandQueueName(device: string): string {
  return COMMAND_QUEUE_PATTERN.replace('{device}', device);
}

export interface CommandStats {
  /** Commands refused at publish time (unknown point, not writable, bad value). */
  refused: number;
  applied: number;
  failedAttempts: number;
  receiptsSent: number;
  receiptsDropped: number;
}

export class DeviceCommands {
  readonly queueName: string;
  private readonly points: ReadonlyMap<string, ResolvedPoint>;
  private readonly base: string;
  private readonly levels: number;
  private readonly receipts: Receipts;
  private consumer: CommandConsumer | undefined;
  /** The last message check() accepted and its points, for split() which the engine calls right after. */
  private checked: { msg: Message; commands: PointCommand[] } | undefined;
  private refused = 0;

  constructor(
    private readonly device: ModbusDeviceConfig,
    private readonly link: DeviceLink,
    private readonly engine: QueueEngine,
    publisher: LocalPublisher,
    private readonly log: Logger,
  ) {
    this.queueName = commandQueueName(device.name);
    this.points = new Map(device.points.map((p) => [p.name, p]));
    this.base = device.commands.topic.replaceAll('{device}', device.name);
    this.levels = this.base.split('/').length;
    const resultTopic = device.commands.resultTopic.replaceAll('{device}', device.name);
    this.receipts = new Receipts(device.name, resultTopic, device.commands.resultQos, publisher, log);
  }

  /** Devices with at least one writable point take commands. */
  static wanted(device: ModbusDeviceConfig): boolean {
    return device.points.some((p) => p.writable);
  }

  /**
   * The template the device's queue is an instance of: one per command topic pattern (`devices/{device}/set`), so
   * the device bridge's queues are made as an MQTT device's are (src/queue/template.ts), except that only the bridge
   * makes them (one per configured device; a publish for an unknown device creates nothing). Undefined when the
   * device's command topic does not hold `{device}` as a whole level: its queue is then declared on its own.
   */
  template(): QueueDefinition | undefined {
    const pattern = `${this.device.commands.topic}/#`;
    if (!pattern.split('/').includes('{device}')) return undefined;
    return {
      ...DEFAULT_QUEUE_SETTINGS,
      // One template per pattern: the default one keeps the instances' name as its own.
      name: this.device.commands.topic === DEFAULT_COMMAND_TOPIC ? COMMAND_QUEUE_PATTERN : `${COMMAND_QUEUE_PATTERN} on ${pattern}`,
      // `#` also matches the parent level [MQTT-4.7.1-2]: the multi-point topic itself.
      topicFilter: pattern,
      type: 'lastvalue',
      // The level after the command topic is the point: one waiting command per point.
      key: `topicLevel:${this.levels}`,
      missingKey: 'reject',
    };
  }

  /** What this device's queue sets beyond its template: its delivery settings. */
  private overrides(): Partial<QueueDefinition> {
    const c = this.device.commands;
    const writable = this.device.points.filter((p) => p.writable).length;
    return {
      // Every point's latest command can be out at once, so the parts of a multi-point command arrive together.
      consumerInflight: Math.max(8, writable),
      maxDeliveries: c.maxDeliveries,
      redeliveryDelayMs: c.redeliveryDelayMs,
      deadLetter: c.deadLetter,
    };
  }

  /** The queue's whole definition (as the instance of template() for this device has it). */
  definition(): QueueDefinition {
    const { maxInstances: _m, ...settings } = this.template() ?? { ...DEFAULT_QUEUE_SETTINGS, type: 'lastvalue' as const, key: `topicLevel:${this.levels}`, missingKey: 'reject' as const };
    return { ...settings, ...this.overrides(), name: this.queueName, topicFilter: `${this.base}/#` };
  }

  /** Makes the queue (registered at once; its definition is durable shortly after) and starts consuming it. */
  start(): void {
    const template = this.template();
    let saved: Promise<unknown>;
    if (template === undefined) saved = this.engine.declare(this.definition());
    else {
      // Both register at once (before the bus opens, so no command published meanwhile is missed); saved later.
      saved = this.engine.declareTemplate(template, { open: false, namePattern: COMMAND_QUEUE_PATTERN });
      const made = this.engine.instantiate(template.name, { device: this.device.name }, this.overrides());
      if ('reason' in made) {
        this.log.error('command queue not made', { device: this.device.name, error: made.detail });
        return;
      }
      saved = Promise.all([saved, made.saved]);
    }
    saved.catch((err: unknown) => this.log.error('command queue not saved', { device: this.device.name, error: String(err) }));
    const queue = this.engine.queueByName(this.queueName)!;
    // Half-settled multi-point commands of the previous run (receipts.ts), kept as the queue's consumer state.
    const store = this.engine.store;
    void this.receipts.attach({
      load: async () => (await store.loadConsumers(queue.id)).find((c) => c.consumerId === RECEIPTS_STATE)?.state,
      save: (state) => {
        const saved = Object.keys(state).length === 0 ? store.deleteConsumer(queue.id, RECEIPTS_STATE) : store.saveConsumer(queue.id, RECEIPTS_STATE, state);
        // Saved while a publish supersedes a part: its acknowledgement waits for this too, so kill -9 after it keeps both.
        this.engine.track(saved);
        return saved;
      },
    });
    this.engine.setHooks(this.queueName, { check: (msg) => this.check(msg), split: (msg) => this.split(msg) });
    queue.observer = (held, why) => this.departed(held, why);
    this.consumer = new CommandConsumer(queue, this, this.device.name, this.link, this.points, this.receipts, () => this.engine.ownerHasRoom(this));
    this.engine.addConsumer(this.consumer);
  }

  /** Received and per outcome, per point (the device API's `commands`). */
  counts(): CommandCounters {
    return { ...this.receipts.counts };
  }

  stats(): CommandStats {
    return {
      refused: this.refused,
      applied: this.consumer?.counters.applied ?? 0,
      failedAttempts: this.consumer?.counters.failedAttempts ?? 0,
      receiptsSent: this.receipts.sent,
      receiptsDropped: this.receipts.dropped,
    };
  }

  /** Admission: a command that cannot be written is refused before it is queued, with a `rejected` receipt. */
  private check(msg: Message): Refusal | null {
    const parsed = parseCommand(this.points, msg.topic.split('/').slice(this.levels), msg.payload);
    if (Array.isArray(parsed)) {
      this.checked = { msg, commands: parsed };
      this.receipts.counts.received += parsed.length;
      return null;
    }
    this.refused++;
    this.receipts.refused(msg, parsed.values, parsed.reason);
    // permanent: a 3.1.1 sender, who cannot hear a reason code, is acknowledged and the command dropped.
    return { reason: 'invalid_command', reasonCode: parsed.reasonCode, permanent: true, queue: this.queueName, detail: parsed.reason };
  }

  /** A command on the multi-point topic becomes one message per point, each keyed and replaced on its own. */
  private split(msg: Message): Message[] | undefined {
    const checked = this.checked?.msg === msg ? this.checked.commands : undefined;
    this.checked = undefined;
    if (msg.topic.split('/').length !== this.levels || checked === undefined) return undefined;
    const id = randomUUID();
    const names = checked.map((c) => c.point.name);
    this.receipts.expect(id, names, Date.now());
    const userProperties = { ...(msg.properties?.userProperties ?? {}), [COMMAND_ID_PROPERTY]: id, [COMMAND_POINTS_PROPERTY]: names.join(',') };
    return checked.map((c) => ({
      topic: `${this.base}/${c.point.name}`,
      payload: Buffer.from(JSON.stringify(c.value)),
      qos: msg.qos,
      retain: false,
      properties: { ...msg.properties, userProperties },
      expiresAt: msg.expiresAt,
      origin: msg.origin,
    }));
  }

  /** A command that left the queue without being written: its receipt. */
  private departed(held: HeldMessage, why: Departure): void {
    const point = pointOf(held);
    const value = parseValue(held.message.payload);
    if (why === 'deadLettered') {
      const last = this.consumer?.lastAttempt.get(held);
      const reason = `${last?.reason ?? 'not written'}; gave up after ${held.deliveryCount} deliveries`;
      this.receipts.result(held.message, point, { value, outcome: last?.outcome ?? 'failed', reason, ...(last?.readBack !== undefined ? { readBack: last.readBack } : {}) }, held.enqueuedAt);
      return;
    }
    const reason =
      why === 'superseded' ? 'a newer command for this point replaced it' : why === 'expired' ? 'its Message Expiry Interval passed while it waited' : 'removed from the queue';
    this.receipts.result(held.message, point, { value, outcome: why === 'dropped' ? 'failed' : why, reason }, held.enqueuedAt);
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
