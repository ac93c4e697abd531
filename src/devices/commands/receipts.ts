// Receipts (issue 15): each command gets exactly one result message, on its MQTT 5 Response Topic with its
// Correlation Data when it carried them, otherwise on the device's result topic. A command for several points is
// queued as one message per point (command-queue.ts): their results are gathered here into the command's one receipt,
// also across a restart: the results of the parts already settled are kept in the store (the command queue's consumer
// state), and every part names all of its command's points, so the parts written after the restart complete it.

import type { QoS } from 'mqtt-packet';
import type { LocalPublisher } from '../../broker/local-publisher.js';
import type { Message, MessageProperties } from '../../protocol/message.js';
import type { Logger } from '../../log/logger.js';
import type { CommandCounters } from '../status.js';

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

/** Where the results of half-settled multi-point commands are kept across restarts (the store's consumer state). */
export interface ReceiptState {
  load(): Promise<Record<string, unknown> | undefined>;
  save(state: Record<string, unknown>): Promise<void>;
}

/** A half-settled command as stored: the points still waited for and the results so far. */
interface StoredGathering {
  expected: string[];
  results: Record<string, PointResult>;
  receivedAtMs: number;
  writtenAtMs: number | null;
}

function userProperty(msg: Message, name: string): string | undefined {
  const v = msg.properties?.userProperties?.[name];
  return Array.isArray(v) ? v[0] : v;
}

export class Receipts {
  private readonly gathering = new Map<string, Gathering>();
  private state: ReceiptState | undefined;
  /** Results that came before the stored state was read (right after a start): handled once it is. */
  private early: (() => void)[] | undefined;
  /** Ids of the commands whose partial results are in the store. */
  private readonly stored = new Set<string>();
  /** Per point: what arrived and how each ended (status.ts CommandCounters). */
  readonly counts: CommandCounters = { received: 0, applied: 0, rejected: 0, expired: 0, superseded: 0, failed: 0 };
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

  /** Reads what the previous run left of half-settled commands; results wait until it is read. */
  attach(state: ReceiptState): Promise<void> {
    this.state = state;
    this.early = [];
    return state.load().then(
      (saved) => {
        for (const [id, raw] of Object.entries(saved ?? {})) {
          const g = raw as StoredGathering;
          this.gathering.set(id, { expected: new Set(g.expected), results: g.results, receivedAtMs: g.receivedAtMs, writtenAtMs: g.writtenAtMs ?? undefined, reason: undefined });
          this.stored.add(id);
        }
        this.replayEarly();
      },
      (err: unknown) => {
        this.log.error('command receipts state not read', { device: this.device, error: String(err) });
        this.replayEarly();
      },
    );
  }

  private replayEarly(): void {
    const early = this.early ?? [];
    this.early = undefined;
    for (const f of early) f();
  }

  /** The half-settled commands into the store; issued before the part's acknowledgement, so it is never behind it. */
  private persist(): void {
    if (this.state === undefined) return;
    const out: Record<string, StoredGathering> = {};
    this.stored.clear();
    for (const [id, g] of this.gathering) {
      if (Object.keys(g.results).length === 0) continue;
      out[id] = { expected: [...g.expected], results: g.results, receivedAtMs: g.receivedAtMs, writtenAtMs: g.writtenAtMs ?? null };
      this.stored.add(id);
    }
    this.state.save(out).catch((err: unknown) => this.log.error('command receipts state not saved', { device: this.device, error: String(err) }));
  }

  /** A multi-point command was split into parts: its receipt waits for each of them. */
  expect(id: string, points: readonly string[], receivedAtMs: number): void {
    this.gathering.set(id, { expected: new Set(points), results: {}, receivedAtMs, writtenAtMs: undefined, reason: undefined });
  }

  /**
   * The result of one queued message (a whole command, or one part of one). `msg` is the queued message, which
   * carries the sender's Response Topic and Correlation Data.
   */
  result(msg: Message, point: string, result: PointResult, receivedAtMs: number, writtenAtMs?: number): void {
    if (this.early !== undefined) {
      this.early.push(() => this.result(msg, point, result, receivedAtMs, writtenAtMs));
      return;
    }
    this.counts[result.outcome]++;
    const id = userProperty(msg, COMMAND_ID_PROPERTY);
    let g = id === undefined ? undefined : this.gathering.get(id);
    if (g === undefined && id !== undefined) {
      // After a restart, before any of its parts settled: every part names all of its command's points.
      const points = userProperty(msg, COMMAND_POINTS_PROPERTY)?.split(',') ?? [];
      if (points.length > 1 && points.includes(point)) {
        g = { expected: new Set(points), results: {}, receivedAtMs, writtenAtMs: undefined, reason: undefined };
        this.gathering.set(id, g);
      }
    }
    if (g === undefined) {
      // A one-point command.
      this.send(msg.properties, { [point]: result }, receivedAtMs, writtenAtMs, result.reason);
      return;
    }
    g.results[point] = result;
    g.expected.delete(point);
    if (writtenAtMs !== undefined) g.writtenAtMs = Math.max(g.writtenAtMs ?? 0, writtenAtMs);
    if (g.expected.size > 0) {
      this.persist();
      return;
    }
    this.gathering.delete(id!);
    if (this.stored.has(id!)) this.persist();
    const reasons = Object.entries(g.results).filter(([, r]) => r.reason !== undefined);
    this.send(msg.properties, g.results, g.receivedAtMs, g.writtenAtMs, reasons.length > 0 ? reasons.map(([p, r]) => `${p}: ${r.reason}`).join('; ') : undefined);
  }

  /** A command refused at publish time (never queued): `rejected`, with why. */
  refused(msg: Message, values: Record<string, unknown>, reason: string): void {
    // A payload that names no point (not JSON on the multi-point topic) is still one command refused.
    const n = Math.max(1, Object.keys(values).length);
    this.counts.received += n;
    this.counts.rejected += n;
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
