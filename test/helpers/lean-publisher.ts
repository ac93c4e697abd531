// A lean QoS 1 publisher for crash tests: one TCP socket, PUBLISH packets built by hand with a sequence number
// in the payload, a window of unacknowledged messages, and a record of exactly which sequences were
// acknowledged with a success reason code (< 0x80). It publishes as fast as the window allows until stopped,
// until its limit is reached, or until the broker goes away.

import net from 'node:net';
import mqtt from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, Packet } from 'mqtt-packet';

/**
 * Payload of message `seq`: the sequence number (uint32 BE) then bytes derived from it, so a delivered payload
 * can be checked byte for byte.
 */
export function seqPayload(seq: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  b.writeUInt32BE(seq >>> 0, 0);
  for (let i = 4; i < size; i++) b[i] = (seq + i * 31) & 0xff;
  return b;
}

/** The sequence number of a payload made by seqPayload, or -1 if it is not one (wrong size or bytes). */
export function decodeSeqPayload(payload: Buffer, size: number): number {
  if (payload.length !== size) return -1;
  const seq = payload.readUInt32BE(0);
  for (let i = 4; i < size; i++) if (payload[i] !== ((seq + i * 31) & 0xff)) return -1;
  return seq;
}

function remainingLength(n: number): Buffer {
  const bytes: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    bytes.push(b);
  } while (n > 0);
  return Buffer.from(bytes);
}

export interface PublishResult {
  /** PUBLISH packets written to the socket. */
  sent: number;
  /** Sequences acknowledged with a PUBACK reason code below 0x80. */
  acked: Set<number>;
  /** PUBACK reason codes >= 0x80 and how often each came. */
  refused: Map<number, number>;
  /** Sent, never acknowledged (in flight when the connection ended). */
  unacked: number;
  /** The connection ended before the publisher stopped by itself (broker killed or it closed us). */
  connectionLost: boolean;
  elapsedMs: number;
}

export interface PublishOptions {
  topic: string;
  /** Unacknowledged messages allowed at once. */
  window: number;
  payloadBytes: number;
  /** Stop after this many messages (and wait for their PUBACKs). */
  maxMessages: number;
}

export class LeanPublisher {
  private readonly parser: ReturnType<typeof mqtt.parser>;
  private readonly inflight = new Map<number, number>(); // packet id -> seq
  private nextPacketId = 1;
  private nextSeq = 0;
  private stopping = false;
  private opts: PublishOptions | undefined;
  private result: PublishResult | undefined;
  private started = 0;
  private finish: (() => void) | undefined;
  private header: Buffer = Buffer.alloc(0);
  private onConnack: ((p: IConnackPacket) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly version: 4 | 5,
  ) {
    this.parser = mqtt.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (e: Error) => socket.destroy(e));
    socket.on('data', (d) => {
      this.parser.parse(d);
      this.pump();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.end(true);
    });
    socket.setNoDelay(true);
  }

  /** Connects with clean start and the given client identifier; fails unless CONNACK accepts. */
  static async connect(port: number, clientId: string, version: 4 | 5 = 5): Promise<LeanPublisher> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const pub = new LeanPublisher(socket, version);
    const connack = new Promise<IConnackPacket>((resolve, reject) => {
      pub.onConnack = resolve;
      socket.once('close', () => reject(new Error('publisher: connection closed before CONNACK')));
      setTimeout(() => reject(new Error('publisher: no CONNACK within 3 s')), 3000).unref();
    });
    const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId };
    socket.write(mqtt.generate(connect, { protocolVersion: version }));
    try {
      const ack = await connack;
      const code = version === 5 ? ack.reasonCode : ack.returnCode;
      if (code !== 0) throw new Error(`publisher: CONNACK refused with ${code}`);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    return pub;
  }

  /** Publishes until stop(), maxMessages or the end of the connection; resolves with what was acknowledged. */
  run(opts: PublishOptions): Promise<PublishResult> {
    if (this.opts !== undefined) throw new Error('publisher: run() called twice');
    this.opts = opts;
    const topic = Buffer.from(opts.topic);
    const fixedPart = 2 + topic.length + 2 + (this.version === 5 ? 1 : 0);
    const rl = remainingLength(fixedPart + opts.payloadBytes);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(topic.length);
    // 0x32: PUBLISH, QoS 1, no DUP, no RETAIN.
    this.header = Buffer.concat([Buffer.from([0x32]), rl, len, topic]);
    this.result = { sent: 0, acked: new Set(), refused: new Map(), unacked: 0, connectionLost: false, elapsedMs: 0 };
    this.started = Date.now();
    const done = new Promise<PublishResult>((resolve) => {
      this.finish = () => resolve(this.result!);
    });
    if (this.closed) this.end(true);
    else this.pump();
    return done;
  }

  /** Messages acknowledged so far (PUBACK below 0x80) by the current run(). */
  get acknowledged(): number {
    return this.result?.acked.size ?? 0;
  }

  /** Stops sending new messages; run() resolves once the ones in flight are acknowledged. */
  stop(): void {
    this.stopping = true;
    if (this.inflight.size === 0) this.end(false);
  }

  /** Closes the connection (DISCONNECT first when it is still open). Safe to call more than once. */
  close(): void {
    if (this.socket.writable) this.socket.end(mqtt.generate({ cmd: 'disconnect' } as Packet, { protocolVersion: this.version }));
    else this.socket.destroy();
  }

  private pump(): void {
    const opts = this.opts;
    if (opts === undefined || this.stopping || this.closed || this.result === undefined) return;
    const v5 = this.version === 5;
    const chunks: Buffer[] = [];
    while (this.inflight.size < opts.window && this.nextSeq < opts.maxMessages) {
      const id = this.takePacketId();
      const seq = this.nextSeq++;
      const idBytes = Buffer.from([id >> 8, id & 0xff]);
      chunks.push(this.header, idBytes);
      if (v5) chunks.push(Buffer.from([0])); // empty property list
      chunks.push(seqPayload(seq, opts.payloadBytes));
      this.inflight.set(id, seq);
      this.result.sent++;
    }
    if (chunks.length > 0) this.socket.write(Buffer.concat(chunks));
    if (this.nextSeq >= opts.maxMessages && this.inflight.size === 0) this.end(false);
  }

  private takePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'connack') {
      this.onConnack?.(p as IConnackPacket);
      return;
    }
    if (p.cmd !== 'puback' || this.result === undefined) return;
    const id = p.messageId!;
    const seq = this.inflight.get(id);
    if (seq === undefined) return; // an unknown packet identifier: not ours to count
    this.inflight.delete(id);
    const reason = (p as { reasonCode?: number }).reasonCode ?? 0;
    if (reason < 0x80) this.result.acked.add(seq);
    else this.result.refused.set(reason, (this.result.refused.get(reason) ?? 0) + 1);
    if (this.stopping && this.inflight.size === 0) this.end(false);
  }

  private end(connectionLost: boolean): void {
    const r = this.result;
    if (r === undefined || this.finish === undefined) return;
    r.unacked = this.inflight.size;
    r.connectionLost = connectionLost;
    r.elapsedMs = Date.now() - this.started;
    const f = this.finish;
    this.finish = undefined;
    f();
  }
}
