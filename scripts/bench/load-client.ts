// Lean, pipelined MQTT load client for the benchmark suite.
//
// Raw `net` sockets + `mqtt-packet`. Deliberately NOT MQTT.js: the load
// generator must never be the bottleneck, so:
//   * writes are coalesced: everything queued in one event-loop turn goes out
//     as a single socket.write (Buffer.concat) from a setImmediate flush;
//   * PUBLISH packets can be stamped from a pre-encoded template
//     (PublishTemplate) instead of re-running the encoder per message;
//   * incoming frames are split by a tiny framer; PUBLISH and PUBACK (the hot
//     path) are decoded inline, every other packet type goes to the
//     mqtt-packet parser (set `fastPath: false` to route everything through
//     mqtt-packet, e.g. to cross-check).
//
// Supports MQTT 3.1.1 (protocolVersion 4) and 5.0 (protocolVersion 5).

import net from 'node:net';
import { generate, parser as createParser } from 'mqtt-packet';
import type { Packet, IConnackPacket, IPublishPacket, ISubackPacket, QoS } from 'mqtt-packet';

export type ProtocolVersion = 4 | 5;

export interface LoadClientOptions {
  host?: string;
  port: number;
  clientId: string;
  protocolVersion?: ProtocolVersion;
  keepalive?: number;
  clean?: boolean;
  /** Max un-acknowledged outgoing QoS 1 publishes (extra ones wait in a local queue). */
  maxInflight?: number;
  connectTimeoutMs?: number;
  /** Decode PUBLISH/PUBACK inline (default true); false = everything via mqtt-packet. */
  fastPath?: boolean;
  /**
   * PUBLISH handler installed before CONNECT is sent. Needed when the broker sends queued messages right
   * after CONNACK (persistent session): they can arrive in the same TCP chunk, before connect() resolves.
   */
  onPublish?: PublishHandler;
  /**
   * Do not PUBACK received QoS 1 messages automatically: the handler acknowledges with `ack(messageId)`
   * (a worker that acknowledges a job when it is done).
   */
  manualAck?: boolean;
}

export interface Subscription {
  topic: string;
  qos: QoS;
}

/**
 * Called for every received PUBLISH. `payload` may be a view into the socket
 * chunk: copy it if you keep it beyond the callback.
 */
export type PublishHandler = (payload: Buffer, topic: string, qos: number, messageId: number) => void;

type PublishBuilder = (messageId: number) => Buffer;

interface QueuedPublish {
  build: PublishBuilder;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A pre-encoded PUBLISH packet. `stamp()` copies it and patches the packet id
 * and payload in place, which is far cheaper than calling generate() per
 * message. Built with mqtt-packet's generate(), so the framing is exactly
 * what the library would produce.
 */
export class PublishTemplate {
  readonly packet: Buffer;
  readonly payloadOffset: number;
  readonly payloadSize: number;
  readonly messageIdOffset: number;
  readonly qos: QoS;

  constructor(topic: string, payloadSize: number, qos: QoS, protocolVersion: ProtocolVersion) {
    this.qos = qos;
    this.payloadSize = payloadSize;
    const pkt: IPublishPacket = {
      cmd: 'publish',
      topic,
      payload: Buffer.alloc(payloadSize),
      qos,
      dup: false,
      retain: false,
    };
    if (qos > 0) pkt.messageId = 1;
    this.packet = generate(pkt, { protocolVersion });
    this.payloadOffset = this.packet.length - payloadSize;
    // fixed header = 1 type byte + 1..4 remaining-length bytes
    let i = 1;
    while (this.packet[i]! & 0x80) i++;
    const fixedHeaderLen = i + 1;
    this.messageIdOffset = qos > 0 ? fixedHeaderLen + 2 + Buffer.byteLength(topic) : -1;
  }

  get length(): number {
    return this.packet.length;
  }

  /** Write one packet into `target` at `offset`; returns the payload offset within target. */
  stampInto(target: Buffer, offset: number, messageId = 0): number {
    this.packet.copy(target, offset);
    if (this.messageIdOffset >= 0) target.writeUInt16BE(messageId, offset + this.messageIdOffset);
    return offset + this.payloadOffset;
  }

  /** A fresh copy of the packet; `fill(buf, payloadOffset)` writes the payload. */
  stamp(messageId: number, fill?: (buf: Buffer, payloadOffset: number) => void): Buffer {
    const buf = Buffer.allocUnsafe(this.packet.length);
    const p = this.stampInto(buf, 0, messageId);
    if (fill) fill(buf, p);
    return buf;
  }
}

const PINGREQ = Buffer.from([0xc0, 0x00]);

export class LoadClient {
  readonly socket: net.Socket;
  readonly protocolVersion: ProtocolVersion;
  readonly clientId: string;
  onPublish: PublishHandler | null = null;
  /** Session Present flag of the CONNACK. */
  sessionPresent = false;

  /** counters */
  received = 0;
  acked = 0;
  sentPublishes = 0;

  private readonly opts: LoadClientOptions;
  private readonly fastPath: boolean;
  private readonly manualAck: boolean;
  private readonly maxInflight: number;
  private readonly parser;
  private rest: Buffer | null = null;
  private pending: Buffer[] = [];
  private flushScheduled = false;
  private closedErr: Error | null = null;
  private closed = false;
  private closeWaiters: (() => void)[] = [];

  // packet ids: 1..65535
  private nextId = 1;
  private readonly idInUse = new Uint8Array(65536);
  private readonly ackResolvers: ((() => void) | undefined)[] = new Array(65536);
  private readonly ackRejecters: (((e: Error) => void) | undefined)[] = new Array(65536);
  private inflight = 0;
  private readonly queue: QueuedPublish[] = [];
  private queueHead = 0;

  private connackWaiter: { resolve: (p: IConnackPacket) => void; reject: (e: Error) => void } | null = null;
  private readonly subackWaiters = new Map<number, { resolve: (g: number[]) => void; reject: (e: Error) => void }>();
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly drainWaiters: (() => void)[] = [];

  private constructor(socket: net.Socket, opts: LoadClientOptions) {
    this.socket = socket;
    this.opts = opts;
    this.protocolVersion = opts.protocolVersion ?? 4;
    this.clientId = opts.clientId;
    this.fastPath = opts.fastPath ?? true;
    this.manualAck = opts.manualAck ?? false;
    this.onPublish = opts.onPublish ?? null;
    this.maxInflight = Math.max(1, Math.min(65000, opts.maxInflight ?? 64));
    this.parser = createParser({ protocolVersion: this.protocolVersion });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (e: Error) => this.fail(e));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error(`connection closed (${this.clientId})`)));
    socket.on('drain', () => {
      const w = this.drainWaiters.splice(0);
      for (const f of w) f();
    });
  }

  /** Open a TCP connection, send CONNECT and wait for a successful CONNACK. */
  static async connect(opts: LoadClientOptions): Promise<LoadClient> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, noDelay: true });
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`TCP connect timeout to port ${opts.port}`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        s.removeListener('error', onErr);
        resolve(s);
      });
      const onErr = (e: Error) => {
        clearTimeout(t);
        reject(e);
      };
      s.once('error', onErr);
    });
    const client = new LoadClient(socket, opts);
    try {
      await client.handshake(timeoutMs);
    } catch (e) {
      socket.destroy();
      throw e;
    }
    return client;
  }

  private handshake(timeoutMs: number): Promise<IConnackPacket> {
    const keepalive = this.opts.keepalive ?? 60;
    const connect: Packet = {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: this.protocolVersion,
      clientId: this.clientId,
      clean: this.opts.clean ?? true,
      keepalive,
    };
    return new Promise<IConnackPacket>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`CONNACK timeout (${this.clientId})`)), timeoutMs);
      this.connackWaiter = {
        resolve: (p) => {
          clearTimeout(t);
          const code = this.protocolVersion === 5 ? p.reasonCode ?? 0 : p.returnCode ?? 0;
          if (code !== 0) {
            reject(new Error(`CONNACK refused, code ${code} (${this.clientId})`));
            return;
          }
          this.sessionPresent = p.sessionPresent === true;
          if (keepalive > 0) {
            this.pingTimer = setInterval(() => this.send(PINGREQ), (keepalive * 1000) / 2);
            this.pingTimer.unref();
          }
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.send(generate(connect));
    });
  }

  // ---------------------------------------------------------------- writing

  /** Queue raw bytes; all bytes queued in one event-loop turn are written together. */
  send(buf: Buffer): void {
    if (this.closed) return;
    this.pending.push(buf);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const p = this.pending;
    if (p.length === 0 || this.closed) return;
    this.pending = [];
    this.socket.write(p.length === 1 ? p[0]! : Buffer.concat(p));
  };

  /** Bytes buffered in the socket (not yet handed to the kernel). */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Resolves once the socket's user-space write buffer is below `highWater` bytes. */
  async drained(highWater = 1 << 20): Promise<void> {
    while (!this.closed && this.socket.writableLength > highWater) {
      await new Promise<void>((r) => this.drainWaiters.push(r));
    }
  }

  // --------------------------------------------------------------- packet ids

  private allocId(): number {
    for (let n = 0; n < 65535; n++) {
      const id = this.nextId;
      this.nextId = id === 65535 ? 1 : id + 1;
      if (!this.idInUse[id]) {
        this.idInUse[id] = 1;
        return id;
      }
    }
    throw new Error('no free packet id');
  }

  private freeId(id: number): void {
    this.idInUse[id] = 0;
  }

  // -------------------------------------------------------------- operations

  async subscribe(subs: Subscription[], timeoutMs = 10_000): Promise<number[]> {
    const messageId = this.allocId();
    const pkt: Packet = { cmd: 'subscribe', messageId, subscriptions: subs };
    return new Promise<number[]>((resolve, reject) => {
      if (this.closedErr) {
        reject(this.closedErr);
        return;
      }
      const t = setTimeout(() => {
        this.subackWaiters.delete(messageId);
        reject(new Error(`SUBACK timeout (${this.clientId})`));
      }, timeoutMs);
      this.subackWaiters.set(messageId, {
        resolve: (granted) => {
          clearTimeout(t);
          this.freeId(messageId);
          const bad = granted.find((g) => g >= 0x80);
          if (bad !== undefined) reject(new Error(`SUBACK failure code ${bad}`));
          else resolve(granted);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.send(generate(pkt, { protocolVersion: this.protocolVersion }));
    });
  }

  /** Publish; QoS 0 resolves once queued, QoS 1 resolves on PUBACK. */
  publish(topic: string, payload: Buffer, qos: 0 | 1 = 0): Promise<void> {
    const build: PublishBuilder = (messageId) => {
      const pkt: IPublishPacket = { cmd: 'publish', topic, payload, qos, dup: false, retain: false };
      if (qos > 0) pkt.messageId = messageId;
      return generate(pkt, { protocolVersion: this.protocolVersion });
    };
    return this.enqueuePublish(qos, build);
  }

  /**
   * Publish from a template. `fill(buf, payloadOffset)` runs when the packet is
   * actually put on the wire (after waiting for a free in-flight slot), so a
   * timestamp written there measures broker latency, not local queueing.
   */
  publishWith(tpl: PublishTemplate, fill?: (buf: Buffer, payloadOffset: number) => void): Promise<void> {
    return this.enqueuePublish(tpl.qos === 0 ? 0 : 1, (messageId) => tpl.stamp(messageId, fill));
  }

  /** Write pre-encoded QoS 0 PUBLISH bytes (e.g. a batch from PublishTemplate.stampInto). */
  writeRaw(buf: Buffer, messages = 0): void {
    this.sentPublishes += messages;
    this.send(buf);
  }

  private enqueuePublish(qos: 0 | 1, build: PublishBuilder): Promise<void> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    if (qos === 0) {
      this.sentPublishes++;
      this.send(build(0));
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      if (this.inflight < this.maxInflight) this.sendQos1(build, resolve, reject);
      else this.queue.push({ build, resolve, reject });
    });
  }

  private sendQos1(build: PublishBuilder, resolve: () => void, reject: (e: Error) => void): void {
    const id = this.allocId();
    this.inflight++;
    this.ackResolvers[id] = resolve;
    this.ackRejecters[id] = reject;
    this.sentPublishes++;
    this.send(build(id));
  }

  private onPuback(id: number): void {
    const resolve = this.ackResolvers[id];
    if (!resolve) return; // unknown / duplicate ack
    this.ackResolvers[id] = undefined;
    this.ackRejecters[id] = undefined;
    this.freeId(id);
    this.inflight--;
    this.acked++;
    if (this.queueHead < this.queue.length) {
      const q = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as QueuedPublish;
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.sendQos1(q.build, q.resolve, q.reject);
    }
    resolve();
  }

  /** Outgoing QoS 1 messages awaiting PUBACK (excluding locally queued ones). */
  get inflightCount(): number {
    return this.inflight;
  }

  // ---------------------------------------------------------------- reading

  private onData(chunk: Buffer): void {
    if (!this.fastPath) {
      this.parser.parse(chunk);
      return;
    }
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    const len = buf.length;
    let off = 0;
    while (off + 2 <= len) {
      // remaining length (variable byte integer, max 4 bytes)
      let i = off + 1;
      let mul = 1;
      let rl = 0;
      let b = 0;
      let complete = false;
      for (let k = 0; k < 4 && i < len; k++) {
        b = buf[i++]!;
        rl += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - off - 1 >= 4) {
          this.fail(new Error('malformed remaining length'));
          return;
        }
        break;
      }
      const end = i + rl;
      if (end > len) break;
      const type = buf[off]! >> 4;
      if (type === 3) this.onPublishFrame(buf, off, i, end);
      else if (type === 4 && rl >= 2) this.onPuback((buf[i]! << 8) | buf[i + 1]!);
      else this.parser.parse(buf.subarray(off, end));
      if (this.closed) return;
      off = end;
    }
    if (off < len) this.rest = off === 0 ? buf : buf.subarray(off);
  }

  private onPublishFrame(buf: Buffer, off: number, start: number, end: number): void {
    const qos = (buf[off]! >> 1) & 3;
    const topicLen = (buf[start]! << 8) | buf[start + 1]!;
    let p = start + 2;
    const topic = buf.toString('utf8', p, p + topicLen);
    p += topicLen;
    let messageId = 0;
    if (qos > 0) {
      messageId = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
    }
    if (this.protocolVersion === 5) {
      let mul = 1;
      let plen = 0;
      let b = 0;
      do {
        b = buf[p++]!;
        plen += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      p += plen;
    }
    this.deliver(buf.subarray(p, end), topic, qos, messageId);
  }

  private deliver(payload: Buffer, topic: string, qos: number, messageId: number): void {
    this.received++;
    if (qos === 1) {
      if (!this.manualAck) this.send(Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]));
    } else if (qos === 2) {
      this.send(generate({ cmd: 'pubrec', messageId }, { protocolVersion: this.protocolVersion }));
    }
    const h = this.onPublish;
    if (h) h(payload, topic, qos, messageId);
  }

  /** PUBACK a received QoS 1 message (with `manualAck`). */
  ack(messageId: number): void {
    this.send(Buffer.from([0x40, 0x02, messageId >> 8, messageId & 0xff]));
  }

  private onPacket(p: Packet): void {
    switch (p.cmd) {
      case 'connack': {
        const w = this.connackWaiter;
        this.connackWaiter = null;
        if (w) w.resolve(p);
        break;
      }
      case 'suback': {
        const id = p.messageId ?? 0;
        const w = this.subackWaiters.get(id);
        if (w) {
          this.subackWaiters.delete(id);
          const granted = (p as ISubackPacket).granted.map((g) =>
            typeof g === 'number' ? g : Number((g as { qos?: number }).qos ?? 0),
          );
          w.resolve(granted);
        }
        break;
      }
      case 'publish': {
        const payload = typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload;
        this.deliver(payload, p.topic, p.qos, p.messageId ?? 0);
        break;
      }
      case 'puback':
        this.onPuback(p.messageId ?? 0);
        break;
      case 'pubrel':
        this.send(generate({ cmd: 'pubcomp', messageId: p.messageId ?? 0 }, { protocolVersion: this.protocolVersion }));
        break;
      case 'disconnect':
        this.fail(new Error(`server sent DISCONNECT (reason ${p.reasonCode ?? 0}) to ${this.clientId}`));
        break;
      default:
        break; // pingresp etc.
    }
  }

  // ---------------------------------------------------------------- closing

  private fail(err: Error): void {
    if (this.closedErr) return;
    this.closedErr = err;
    this.closed = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.connackWaiter) this.connackWaiter.reject(err);
    this.connackWaiter = null;
    for (const w of this.subackWaiters.values()) w.reject(err);
    this.subackWaiters.clear();
    for (let id = 1; id < 65536; id++) {
      const r = this.ackRejecters[id];
      if (r) {
        this.ackResolvers[id] = undefined;
        this.ackRejecters[id] = undefined;
        r(err);
      }
    }
    for (let i = this.queueHead; i < this.queue.length; i++) this.queue[i]!.reject(err);
    this.queue.length = 0;
    this.queueHead = 0;
    const dw = this.drainWaiters.splice(0);
    for (const f of dw) f();
    if (!this.socket.destroyed) this.socket.destroy();
    const cw = this.closeWaiters.splice(0);
    for (const f of cw) f();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Send DISCONNECT, end the socket and wait (bounded) for it to close. */
  async end(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.pending.push(generate({ cmd: 'disconnect' }, { protocolVersion: this.protocolVersion }));
    this.flush();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.socket.end();
    });
  }

  destroy(): void {
    this.fail(new Error('destroyed'));
  }
}
