// Receipts (issue 15): each command gets exactly one result message, on its MQTT 5 Response Topic with its
// Correlation Data when it carried them, otherwise on the device's result topic. A command for several points is
// queued as one message per point (command-queue.ts): their results are gathered here into the command's one receipt.

import type { QoS } from 'mqtt-packet';
import type { LocalPublisher } from '../../broker/local-publisher.js';
import type { Message, MessageProperties } from '../../protocol/message.js';
import type { Logger } from '../../log/logger.js';

export type Outcome = 'applied' | 'rejected' | 'expired' | 'superseded' | 'failed';

export interface PointResult {
  value: unknown;
  outcome: Outcome;
  readBack?: unknown;
  reason?: string;
}

/** User properties a part of a multi-point command carries: its command's id and all of its points. */
export const COMMAND_ID_PROPERTY = 'wharf-command';
export const COMMAND_POINTS_PROPERTY = 'wharf-command-points';

interface Gathering {
  expected: Set<string>;
  results: Record<string, PointResult>;
  receivedAtMs: number;
  writtenAtMs: number | undefined;
  reason: string | undefined;
}

function userProperty(msg: Message, name: string): string | undefined {
  const v = msg.properties?.userProperties?.[name];
  return Array.isArray(v) ? v[0] : v;
}

export class Receipts {
  private readonly gathering = new Map<string, Gathering>();
  /** Receipts that could not be published (refused by the store), counted. */
  dropped = 0;
  sent = 0;

  constructor(
    private readonly device: string,
    private readonly resultTopic: string,
    private readonly qos: QoS,
    private readonly publisher: LocalPublisher,
    private readonly log: Logger,
  ) {}

  /** A multi-point command was split into parts: its receipt waits for each of them. */
  expect(id: string, points: readonly string[], receivedAtMs: number): void {
    this.gathering.set(id, { expected: new Set(points), results: {}, receivedAtMs, writtenAtMs: undefined, reason: undefined });
  }

  /**
   * The result of one queued message (a whole command, or one part of one). `msg` is the queued message, which
   * carries the sender's Response Topic and Correlation Data.
   */
  result(msg: Message, point: string, result: PointResult, receivedAtMs: number, writtenAtMs?: number): void {
    const id = userProperty(msg, COMMAND_ID_PROPERTY);
    const g = id === undefined ? undefined : this.gathering.get(id);
    if (g === undefined) {
      // A one-point command, or a part whose command's other parts were settled before a restart.
      this.send(msg.properties, { [point]: result }, receivedAtMs, writtenAtMs, result.reason);
      return;
    }
    g.results[point] = result;
    g.expected.delete(point);
    if (writtenAtMs !== undefined) g.writtenAtMs = Math.max(g.writtenAtMs ?? 0, writtenAtMs);
    if (g.expected.size > 0) return;
    this.gathering.delete(id!);
    const reasons = Object.entries(g.results).filter(([, r]) => r.reason !== undefined);
    this.send(msg.properties, g.results, g.receivedAtMs, g.writtenAtMs, reasons.length > 0 ? reasons.map(([p, r]) => `${p}: ${r.reason}`).join('; ') : undefined);
  }

  /** A command refused at publish time (never queued): `rejected`, with why. */
  refused(msg: Message, values: Record<string, unknown>, reason: string): void {
    const results: Record<string, PointResult> = {};
    for (const [point, value] of Object.entries(values)) results[point] = { value, outcome: 'rejected' };
    this.send(msg.properties, results, Date.now(), undefined, reason);
  }

  private send(props: MessageProperties | undefined, points: Record<string, PointResult>, receivedAtMs: number, writtenAtMs: number | undefined, reason: string | undefined): void {
    const outcomes = new Set(Object.values(points).map((r) => r.outcome));
    const outcome = outcomes.size === 1 ? [...outcomes][0]! : outcomes.size === 0 ? 'rejected' : 'partial';
    const doc = {
      device: this.device,
      outcome,
      points,
      ...(reason !== undefined ? { reason } : {}),
      receivedAt: new Date(receivedAtMs).toISOString(),
      ...(writtenAtMs !== undefined ? { writtenAt: new Date(writtenAtMs).toISOString() } : {}),
    };
    // MQTT 5.0 section 4.10 (request / response): the answer goes to the Response Topic with the Correlation Data.
    const topic = props?.responseTopic ?? this.resultTopic;
    const properties: MessageProperties | undefined = props?.correlationData !== undefined ? { correlationData: props.correlationData } : undefined;
    // Never from inside the admission or dispatch that produced it: a publish re-enters the broker.
    setImmediate(() => {
      this.publisher.publish(topic, Buffer.from(JSON.stringify(doc)), { qos: this.qos, retain: false, properties }).then(
        (o) => {
          if (o.kind === 'stored') this.sent++;
          else this.drop(o.kind === 'refused' ? o.detail : o.error);
        },
        (err: unknown) => this.drop(String(err)),
      );
    });
  }

  private drop(why: string): void {
    if (this.dropped++ === 0) this.log.warn('command receipt not published', { device: this.device, error: why });
  }
}
