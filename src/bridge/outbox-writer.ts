// Outbox traffic on the upstream connection, beside MQTT.js: packet identifiers from a range MQTT.js never uses,
// and one socket write per burst of PUBLISH/PUBREL packets (headers and small payloads in one buffer, large
// payloads passed as they are, never copied). MQTT.js keeps the connection (CONNECT, SUBSCRIBE, keep alive, the
// downlink); it never sees an outbox PUBLISH, so its outgoing store holds none and can never send one again.

import type { Writable } from 'node:stream';
import type { IClientOptions } from 'mqtt';

type IMessageIdProvider = NonNullable<IClientOptions['messageIdProvider']>;
import { frameBytes, writeHeader, type PublishFrame } from './publish-encoder.js';

/** Packet identifiers below this are MQTT.js's (SUBSCRIBE, UNSUBSCRIBE); the outbox uses this one to 65535. */
export const FIRST_OUTBOX_PACKET_ID = 1024;
/** Payloads up to this size are copied into the burst's buffer; larger ones go to the socket as their own chunk. */
const COPY_MAX_BYTES = 2048;
/** A burst larger than this is written at once rather than at the end of the event-loop turn. */
const BURST_MAX_BYTES = 256 * 1024;

/** The outbox's packet identifiers on one connection: FIRST_OUTBOX_PACKET_ID to 65535, each used once at a time. */
export class OutboxPacketIds {
  private readonly used = new Uint8Array(65536);
  private next = FIRST_OUTBOX_PACKET_ID;
  private count = 0;
  static readonly capacity = 65536 - FIRST_OUTBOX_PACKET_ID;

  static owns(id: number): boolean {
    return id >= FIRST_OUTBOX_PACKET_ID && id <= 65535;
  }

  /** A free identifier, or 0 when all are in flight (the bridge's window never lets that happen). */
  allocate(): number {
    if (this.count >= OutboxPacketIds.capacity) return 0;
    // [MQTT-2.2.1-3]: an identifier is not reused while its exchange is unfinished.
    while (this.used[this.next] === 1) this.next = this.next === 65535 ? FIRST_OUTBOX_PACKET_ID : this.next + 1;
    const id = this.next;
    this.used[id] = 1;
    this.count++;
    this.next = id === 65535 ? FIRST_OUTBOX_PACKET_ID : id + 1;
    return id;
  }

  release(id: number): void {
    if (this.used[id] !== 1) return;
    this.used[id] = 0;
    this.count--;
  }
}

/** MQTT.js's own identifiers (its SUBSCRIBE and UNSUBSCRIBE), kept below the outbox's range. */
export class MqttJsPacketIds implements IMessageIdProvider {
  private last = 0;
  private readonly used = new Set<number>();

  allocate(): number | null {
    for (let i = 1; i < FIRST_OUTBOX_PACKET_ID; i++) {
      const id = ((this.last + i - 1) % (FIRST_OUTBOX_PACKET_ID - 1)) + 1;
      if (this.used.has(id)) continue;
      this.used.add(id);
      this.last = id;
      return id;
    }
    return null;
  }

  getLastAllocated(): number | null {
    return this.last === 0 ? null : this.last;
  }

  register(id: number): boolean {
    if (id < 1 || id >= FIRST_OUTBOX_PACKET_ID || this.used.has(id)) return false;
    this.used.add(id);
    return true;
  }

  deallocate(id: number): void {
    this.used.delete(id);
  }

  clear(): void {
    this.used.clear();
  }
}

/** Packets of one burst, written in order with one cork/uncork: one system call for all of them. */
export class BurstWriter {
  private readonly queued: (PublishFrame | Buffer)[] = [];
  private bytes = 0;
  private copyBytes = 0;
  private scheduled = false;
  private closed = false;
  /** Socket writes so far. */
  writes = 0;

  /**
   * `mayWrite` says whether a burst should go now or wait to grow (the bridge: while half of its window is still
   * on the wire, the pipe is full and more acknowledgements are coming); a held burst goes on the next poke().
   */
  constructor(
    private readonly stream: Writable,
    private readonly mayWrite: () => boolean = () => true,
  ) {}

  /** Packets waiting for the next write. */
  get queuedPackets(): number {
    return this.queued.length;
  }

  /** Something changed (an acknowledgement came): a held burst may go now. */
  poke(): void {
    if (this.queued.length > 0) this.later();
  }

  publish(frame: PublishFrame): void {
    this.queued.push(frame);
    const n = frameBytes(frame);
    this.bytes += n;
    this.copyBytes += frame.payload.length <= COPY_MAX_BYTES ? n : frame.headerBytes;
    this.later();
  }

  /** A ready-made packet (PUBREL). */
  raw(packet: Buffer): void {
    this.queued.push(packet);
    this.bytes += packet.length;
    this.copyBytes += packet.length;
    this.later();
  }

  /** The connection is gone: nothing more is written (what was queued is resent from the outbox next time). */
  close(): void {
    this.closed = true;
    this.queued.length = 0;
  }

  private later(): void {
    if (this.bytes >= BURST_MAX_BYTES) {
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    // After every acknowledgement of the socket read being handled (MQTT.js handles one packet per tick).
    setImmediate(() => {
      this.scheduled = false;
      if (this.mayWrite()) this.flush();
    });
  }

  flush(): void {
    const queued = this.queued;
    if (queued.length === 0) return;
    if (this.closed || this.stream.destroyed) {
      queued.length = 0;
      this.bytes = this.copyBytes = 0;
      return;
    }
    const buf = Buffer.allocUnsafe(this.copyBytes);
    let at = 0;
    let from = 0;
    const chunks: Buffer[] = [];
    for (const item of queued) {
      if (Buffer.isBuffer(item)) {
        buf.set(item, at);
        at += item.length;
        continue;
      }
      at = writeHeader(buf, at, item);
      if (item.payload.length <= COPY_MAX_BYTES) {
        // TypedArray#set: no per-call argument checks of Buffer#copy for a few hundred bytes.
        buf.set(item.payload, at);
        at += item.payload.length;
      }
      else {
        // A large payload (often a view of the payload store's mapped segment) is written as it is.
        chunks.push(buf.subarray(from, at), item.payload);
        from = at;
      }
    }
    if (at > from) chunks.push(buf.subarray(from, at));
    queued.length = 0;
    this.bytes = this.copyBytes = 0;
    this.writes++;
    if (chunks.length === 1) {
      this.stream.write(chunks[0]);
      return;
    }
    this.stream.cork();
    for (const c of chunks) this.stream.write(c);
    this.stream.uncork();
  }
}
