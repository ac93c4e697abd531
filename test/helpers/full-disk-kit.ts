// Pieces of the full-disk end-to-end tests: a small tmpfs the test mounts itself (standing in for a nearly full
// SD card), a publisher that fills a queue with numbered QoS 1 messages until the broker refuses them, and a
// consumer that drains and acknowledges them, checking every payload's content.

import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IPublishPacket, IPubackPacket, Packet } from 'mqtt-packet';
import { RawClient } from './raw-client.js';

export const QUOTA_EXCEEDED = 0x97;

/** A mounted tmpfs of `size` (mount(8) syntax, e.g. 24m); umount() takes it away again. */
export interface Tmpfs {
  readonly dir: string;
  umount(): void;
}

/** Mounts a tmpfs, or says why it cannot (not root, no mount permission in this container). */
export function mountTmpfs(size: string): Tmpfs | { error: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(dir);
    return { error: String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim() };
  }
  return {
    dir,
    umount() {
      // Lazy: a broker killed a moment ago may still hold files open while the kernel reaps it.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmdirSync(dir);
    },
  };
}

/** Why this machine cannot mount a tmpfs (for requireAvailable), or undefined if it can. */
export function tmpfsUnavailable(): string | undefined {
  const probe = mountTmpfs('1m');
  if ('error' in probe) return `cannot mount a tmpfs (${probe.error})`;
  probe.umount();
  return undefined;
}

/** Writes `path` until its file system has no block left (another program filling the disk). */
export function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, block);
    throw new Error('the disk did not fill');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    // The last partial block too.
    for (let bytes = 32 * 1024; bytes >= 512; bytes /= 2) {
      try {
        writeSync(fd, block.subarray(0, bytes));
      } catch {
        // that size no longer fits
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Message `id`'s payload: the id, then a pattern derived from it, so a mixed-up or torn payload is noticed. */
export function payloadOf(id: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes, id % 251);
  b.writeUInt32BE(id, 0);
  return b;
}

/** The id of a payload made by payloadOf, or an error if its content is not what that id's payload holds. */
export function idOf(payload: Buffer): number {
  const id = payload.readUInt32BE(0);
  if (!payload.equals(payloadOf(id, payload.length))) throw new Error(`payload of message ${id} is corrupt`);
  return id;
}

export interface FillResult {
  /** Ids acknowledged with a success reason code: they must never be lost. */
  acked: number[];
  /** Reason codes of the refused publishes. */
  refusals: number[];
}

/**
 * Publishes messages firstId, firstId+1, ... at QoS 1 with `window` in flight until the broker refuses one, then
 * waits for the answers to those still in flight. At most `max` messages.
 */
export async function fillUntilRefused(pub: RawClient, topic: string, firstId: number, bytes: number, max: number, window = 32): Promise<FillResult> {
  const inflight = new Map<number, number>();
  const result: FillResult = { acked: [], refusals: [] };
  let sent = 0;
  while ((result.refusals.length === 0 && sent < max) || inflight.size > 0) {
    while (result.refusals.length === 0 && sent < max && inflight.size < window) {
      const id = firstId + sent++;
      const messageId = (id % 65535) + 1;
      inflight.set(messageId, id);
      pub.send({ cmd: 'publish', topic, payload: payloadOf(id, bytes), qos: 1, retain: false, dup: false, messageId });
    }
    const ack = (await pub.next('puback', 10_000)) as IPubackPacket;
    const id = inflight.get(ack.messageId!);
    if (id === undefined) throw new Error(`PUBACK for unknown packet id ${ack.messageId}`);
    inflight.delete(ack.messageId!);
    if ((ack.reasonCode ?? 0) < 0x80) result.acked.push(id);
    else result.refusals.push(ack.reasonCode!);
  }
  return result;
}

/** Publishes one message; resolves with the PUBACK's reason code. */
export async function publishOne(pub: RawClient, topic: string, id: number, bytes: number): Promise<number> {
  pub.send({ cmd: 'publish', topic, payload: payloadOf(id, bytes), qos: 1, retain: false, dup: false, messageId: (id % 65535) + 1 });
  return ((await pub.next('puback', 10_000)) as IPubackPacket).reasonCode ?? 0;
}

/** Publishes message `id` every 50 ms until one is accepted; false if none is within `timeoutMs`. */
export async function publishAgain(pub: RawClient, topic: string, id: number, bytes: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await publishOne(pub, topic, id, bytes)) < 0x80) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

/** A queue consumer over a raw MQTT 5 connection: acknowledges (or holds) what it gets, remembering the ids. */
export class Consumer {
  readonly received = new Set<number>();
  readonly held: IPublishPacket[] = [];

  private constructor(
    readonly client: RawClient,
    private readonly hold: boolean,
  ) {}

  /** Connects and subscribes to `filter`; a holding consumer never acknowledges (receiveMaximum bounds it). */
  static async start(port: number, clientId: string, filter: string, opts: { hold?: boolean; receiveMaximum?: number } = {}): Promise<Consumer> {
    const properties = opts.receiveMaximum === undefined ? {} : { receiveMaximum: opts.receiveMaximum };
    const { client } = await RawClient.connected(port, { clientId, properties });
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] } as Packet);
    await client.next('suback');
    return new Consumer(client, opts.hold ?? false);
  }

  /** Takes deliveries until every id in `ids` has come (ids already received count); bounded by `timeoutMs`. */
  async drain(ids: Iterable<number>, timeoutMs: number): Promise<void> {
    const missing = new Set([...ids].filter((id) => !this.received.has(id)));
    const deadline = Date.now() + timeoutMs;
    while (missing.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${missing.size} messages not delivered within ${timeoutMs} ms, e.g. ${[...missing].slice(0, 5).join(', ')}`);
      this.take((await this.client.next('publish', left)) as IPublishPacket);
      for (const id of this.received) missing.delete(id);
    }
  }

  /** Waits until `n` deliveries are held (holding consumers). */
  async holdCount(n: number, timeoutMs: number): Promise<void> {
    while (this.held.length < n) this.take((await this.client.next('publish', timeoutMs)) as IPublishPacket);
  }

  /** Acknowledges what it holds. */
  release(): void {
    for (const p of this.held.splice(0)) this.client.send({ cmd: 'puback', messageId: p.messageId! });
  }

  end(): void {
    this.client.end();
  }

  private take(p: IPublishPacket): void {
    this.received.add(idOf(p.payload as Buffer));
    if (this.hold) this.held.push(p);
    else this.client.send({ cmd: 'puback', messageId: p.messageId! });
  }
}
