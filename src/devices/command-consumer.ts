// The device bridge's in-process consumer of one device's command queue (issue 15): a QueueConsumer like an MQTT
// session's, acknowledging a command once its write is verified by reading it back and rejecting it on a failure,
// so the queue's redeliveryDelay, maxDeliveries and dead-letter queue apply. Commands are written one at a time,
// only while the device answers: while it is offline nothing is delivered and the latest value per point waits.

import type { ResolvedPoint } from '../config/types.js';
import { isExpired } from '../protocol/message.js';
import { QueueConsumer } from '../queue/consumer.js';
import type { Queue, HeldMessage } from '../queue/queue.js';
import type { DeviceLink } from './bus-scheduler.js';
import { checkPoint, parseValue, type PointCommand } from './commands/parse.js';
import { COMMAND_ID_PROPERTY, type Outcome, type Receipts } from './commands/receipts.js';
import { writeCommand } from './commands/writer.js';

interface Taken {
  held: HeldMessage;
  key: number;
}

/** The last failed attempt of a command still queued: what its receipt says if that was its last delivery. */
export interface FailedAttempt {
  outcome: Extract<Outcome, 'rejected' | 'failed'>;
  reason: string;
  readBack?: unknown;
}

export interface CommandCounters {
  /** Commands (or parts of one) written and verified. */
  applied: number;
  /** Attempts that failed: an exception, no answer, or a read-back mismatch. */
  failedAttempts: number;
}

export function commandIdOf(held: HeldMessage): string | undefined {
  const v = held.message.properties?.userProperties?.[COMMAND_ID_PROPERTY];
  return Array.isArray(v) ? v[0] : v;
}

/** The point a queued command message is for: the last level of `<command topic>/<point>`. */
export function pointOf(held: HeldMessage): string {
  const topic = held.message.topic;
  return topic.slice(topic.lastIndexOf('/') + 1);
}

export class CommandConsumer extends QueueConsumer<number> {
  readonly counters: CommandCounters = { applied: 0, failedAttempts: 0 };
  readonly lastAttempt = new WeakMap<HeldMessage, FailedAttempt>();
  private nextKey = 1;
  private readonly taken: Taken[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;
  private stopped = false;
  private wakeOnline: (() => void) | undefined;

  constructor(
    queue: Queue,
    owner: object,
    private readonly device: string,
    private readonly link: DeviceLink,
    private readonly points: ReadonlyMap<string, ResolvedPoint>,
    private readonly receipts: Receipts,
    /** Called when the device answers again: the engine may dispatch to this consumer. */
    private readonly hasRoomAgain: () => void,
  ) {
    super(queue, owner, 1);
    const previous = link.onStateChange;
    link.onStateChange = (state, error) => {
      previous?.(state, error);
      if (state !== 'online') return;
      this.wakeOnline?.();
      this.hasRoomAgain();
    };
  }

  get id(): string {
    return `device:${this.device}`;
  }

  protected transportHasRoom(): boolean {
    return !this.stopped && this.link.state === 'online';
  }

  deliver(held: HeldMessage): void {
    const key = this.nextKey++;
    this.begin(held, key);
    this.taken.push({ held, key });
    // After the dispatch that delivered it: the other parts of the same command come in that same dispatch.
    if (this.scheduled || this.running !== undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.running ??= this.run().finally(() => (this.running = undefined));
    });
  }

  private async run(): Promise<void> {
    while (this.taken.length > 0 && !this.stopped) {
      if (this.link.state !== 'online') {
        // In flight, not failed: it waits here for the device rather than spending a delivery on a dead line.
        await new Promise<void>((resolve) => (this.wakeOnline = resolve));
        this.wakeOnline = undefined;
        continue;
      }
      const first = this.taken.shift()!;
      const batch = [first];
      const id = commandIdOf(first.held);
      if (id !== undefined) {
        for (let i = 0; i < this.taken.length; ) {
          if (commandIdOf(this.taken[i]!.held) === id) batch.push(...this.taken.splice(i, 1));
          else i++;
        }
      }
      await this.execute(batch);
    }
  }

  /** One command (all of its parts that are here): checked again, written, read back, settled. */
  private async execute(batch: Taken[]): Promise<void> {
    const now = Date.now();
    const live: { taken: Taken; command: PointCommand }[] = [];
    for (const t of batch) {
      const { held } = t;
      const point = pointOf(held);
      const value = parseValue(held.message.payload);
      // The receipt first: a multi-point command's partial results are stored before this part's acknowledgement.
      const done = (outcome: Outcome, reason?: string): void => {
        this.receipts.result(held.message, point, { value, outcome, ...(reason !== undefined ? { reason } : {}) }, held.enqueuedAt);
        this.settle(t.key, true);
      };
      // Replaced by a newer command while it waited here for the device: never written.
      if (held.superseded) done('superseded');
      else if (isExpired(held.message, now)) done('expired', 'its Message Expiry Interval passed before it was written');
      else {
        // The configuration may have changed since it was queued (a restart with other points or bounds).
        const checked = checkPoint(this.points, point, value);
        if ('point' in checked) live.push({ taken: t, command: checked });
        else done('rejected', checked.reason);
      }
    }
    if (live.length === 0) return;
    const outcome = await writeCommand(this.link, live.map((l) => l.command));
    // Stopping (the bus closed under the write): left in flight, so it is delivered again after the restart uncounted.
    if (this.stopped) return;
    if (outcome.kind !== 'written') {
      for (const { taken } of live) {
        this.counters.failedAttempts++;
        this.lastAttempt.set(taken.held, { outcome: outcome.kind, reason: outcome.reason });
        this.settle(taken.key, false, `${outcome.kind}: ${outcome.reason}`);
      }
      return;
    }
    live.forEach(({ taken }, i) => {
      const p = outcome.points[i]!;
      if (p.ok) {
        this.counters.applied++;
        this.receipts.result(taken.held.message, p.point, { value: p.value, outcome: 'applied', readBack: p.readBack }, taken.held.enqueuedAt, outcome.writtenAtMs);
        this.settle(taken.key, true);
      } else {
        this.counters.failedAttempts++;
        this.lastAttempt.set(taken.held, { outcome: 'failed', reason: p.reason, readBack: p.readBack });
        this.settle(taken.key, false, `failed: ${p.reason}`);
      }
    });
  }

  /** No more deliveries; what is in flight stays unacknowledged in the store and is delivered after the restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeOnline?.();
    await this.running;
  }
}
