// Clients for end-to-end queue tests over raw sockets (mqtt-packet), with precise control of acknowledgements:
// JobPublisher sends numbered jobs at QoS 1 (payload = the job number in decimal) and records exactly which were
// acknowledged; QueueWorker consumes a queue subscription, "processes" each job for a set time (setTimeout) and
// then answers PUBACK with a chosen reason code, or holds it, recording every delivery and acknowledgement.
// (scripts/bench/ocr-shares.ts uses them too, so that the benchmark measures what the e2e test checks.)

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, IPublishPacket, ISubackPacket, Packet } from 'mqtt-packet';

const CONNACK_TIMEOUT_MS = 3000;
const SUBACK_TIMEOUT_MS = 3000;

export async function openSocket(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  return socket;
}

/** A parser on `socket` calling `onPacket`; `closed` resolves when the socket closes. */
function attach(socket: net.Socket, version: 4 | 5, onPacket: (p: Packet) => void): Promise<void> {
  const parser = mqtt.parser({ protocolVersion: version });
  parser.on('packet', onPacket);
  parser.on('error', (e: Error) => socket.destroy(e));
  socket.on('data', (d) => parser.parse(d));
  socket.on('error', () => {});
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

function waitFor<T>(what: string, timeoutMs: number, closed: Promise<void>, register: (resolve: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
    closed.then(() => (clearTimeout(t), reject(new Error(`connection closed while waiting for ${what}`))));
    register((v) => (clearTimeout(t), resolve(v)));
  });
}

async function handshake(socket: net.Socket, version: 4 | 5, connect: IConnectPacket, closed: Promise<void>, onConnack: (f: (p: IConnackPacket) => void) => void): Promise<void> {
  const ack = waitFor<IConnackPacket>('CONNACK', CONNACK_TIMEOUT_MS, closed, onConnack);
  socket.write(mqtt.generate(connect, { protocolVersion: version }));
  try {
    const p = await ack;
    const code = version === 5 ? p.reasonCode : p.returnCode;
    if (code !== 0) throw new Error(`${connect.clientId}: CONNACK refused with ${code}`);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

// ---- Publisher ------------------------------------------------------------------------------------------------

export interface JobPublishOptions {
  topic: string;
  /** The jobs to send, in this order. */
  jobs: readonly number[];
  /** Unacknowledged publishes allowed at once. */
  window: number;
  /** Jobs per second at most (paced in 5 ms steps); undefined = as fast as the window allows. */
  ratePerSec?: number;
  /** run() gives up (timedOut) after this long; default 20 s. */
  timeoutMs?: number;
}

export interface JobPublishResult {
  /** Jobs written to the socket. */
  sent: number[];
  /** Jobs acknowledged with a PUBACK reason code below 0x80. */
  acked: Set<number>;
  /** Jobs answered with a reason code >= 0x80, by job. */
  refused: Map<number, number>;
  /** Sent and never answered (in flight when the connection ended). */
  unanswered: number[];
  /** The connection ended before every job was answered. */
  connectionLost: boolean;
  /** Not every job was sent and answered within timeoutMs. */
  timedOut: boolean;
}

/** Sends numbered jobs at QoS 1 over MQTT 5; run() may be called again once the previous one has resolved. */
export class JobPublisher {
  private readonly inflight = new Map<number, number>(); // packet id -> job
  private nextPacketId = 1;
  private connackWaiter: ((p: IConnackPacket) => void) | undefined;
  private onAck: ((id: number, reason: number) => void) | undefined;
  readonly closed: Promise<void>;
  isClosed = false;
  /**
   * performance.now() taken just before the write of each job's PUBLISH (the last write if sent again): the
   * broker reads the job after anything this process had received by then.
   */
  readonly sentAt = new Map<number, number>();
  /** Jobs acknowledged with success so far, over every run(). */
  ackedCount = 0;

  private constructor(private readonly socket: net.Socket) {
    this.closed = attach(socket, 5, (p) => this.onPacket(p)).then(() => {
      this.isClosed = true;
    });
  }

  static async connect(port: number, clientId: string): Promise<JobPublisher> {
    const pub = new JobPublisher(await openSocket(port));
    await handshake(pub.socket, 5, { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId }, pub.closed, (f) => (pub.connackWaiter = f));
    return pub;
  }

  private onPacket(p: Packet): void {
    if (p.cmd === 'connack') this.connackWaiter?.(p as IConnackPacket);
    else if (p.cmd === 'puback') this.onAck?.(p.messageId!, (p as { reasonCode?: number }).reasonCode ?? 0);
  }

  /** Publishes the jobs; resolves when all are answered or the connection ends. */
  run(opts: JobPublishOptions): Promise<JobPublishResult> {
    const r: JobPublishResult = { sent: [], acked: new Set(), refused: new Map(), unanswered: [], connectionLost: false, timedOut: false };
    const topic = Buffer.from(opts.topic);
    let next = 0;
    let allowance = opts.ratePerSec === undefined ? Infinity : 0;
    let pacer: NodeJS.Timeout | undefined;
    return new Promise<JobPublishResult>((resolve) => {
      let finished = false;
      const limit = setTimeout(() => ((r.timedOut = true), finish(false)), opts.timeoutMs ?? 20_000);
      const finish = (lost: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(limit);
        if (pacer !== undefined) clearInterval(pacer);
        r.unanswered = [...this.inflight.values()];
        r.connectionLost = lost;
        this.onAck = undefined;
        resolve(r);
      };
      const pump = () => {
        if (finished || this.isClosed) return;
        const chunks: Buffer[] = [];
        while (next < opts.jobs.length && this.inflight.size < opts.window && allowance >= 1) {
          allowance--;
          const job = opts.jobs[next++]!;
          const id = this.takePacketId();
          this.inflight.set(id, job);
          r.sent.push(job);
          chunks.push(mqtt.generate({ cmd: 'publish', topic: topic.toString(), payload: Buffer.from(String(job)), qos: 1, dup: false, retain: false, messageId: id, properties: {} } as IPublishPacket, { protocolVersion: 5 }));
        }
        if (chunks.length > 0) {
          const now = performance.now();
          for (let i = r.sent.length - chunks.length; i < r.sent.length; i++) this.sentAt.set(r.sent[i]!, now);
          this.socket.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        }
        if (next >= opts.jobs.length && this.inflight.size === 0) finish(false);
      };
      this.onAck = (id, reason) => {
        const job = this.inflight.get(id);
        if (job === undefined) return;
        this.inflight.delete(id);
        if (reason < 0x80) {
          r.acked.add(job);
          this.ackedCount++;
        }
        else r.refused.set(job, reason);
        pump();
      };
      this.closed.then(() => finish(true));
      if (opts.ratePerSec !== undefined) {
        const perStep = opts.ratePerSec / 200;
        let last = performance.now();
        allowance = perStep;
        pacer = setInterval(() => {
          const now = performance.now();
          allowance = Math.min(allowance + ((now - last) / 5) * perStep, opts.window + perStep);
          last = now;
          pump();
        }, 5);
      }
      pump();
    });
  }

  private takePacketId(): number {
    for (;;) {
      const id = this.nextPacketId;
      this.nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id)) return id;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- Worker ---------------------------------------------------------------------------------------------------

export interface JobDelivery {
  job: number;
  topic: string;
  packetId: number;
  qos: number;
  dup: boolean;
  userProperties: Record<string, string | string[]>;
  /** performance.now() when the PUBLISH was parsed. */
  at: number;
}

/** What a worker does with a job: PUBACK with `reasonCode` (default 0) after `delayMs`, or never ('hold'). */
export type JobAction = { delayMs: number; reasonCode?: number } | 'hold';

export interface JobAck {
  job: number;
  reasonCode: number;
  /** performance.now() when the PUBACK was written. */
  at: number;
  /** From delivery to PUBACK, ms. */
  serviceMs: number;
}

export class QueueWorker {
  /** Every PUBLISH received, over all connections, in order. */
  readonly deliveries: JobDelivery[] = [];
  /** Every PUBACK written on an open connection, in order. */
  readonly acks: JobAck[] = [];
  /** Jobs whose processing ended after their connection had closed (no PUBACK could be sent). */
  readonly abandoned: number[] = [];
  /** Deliveries received and not yet answered on the current connection, by packet identifier. */
  readonly holding = new Map<number, JobDelivery>();
  /** Called with every delivery (after it is recorded). */
  onDelivery: ((d: JobDelivery) => void) | undefined;
  private socket: net.Socket | undefined;
  private version: 4 | 5 = 5;
  private waiters = new Map<string, (p: Packet) => void>();
  private timers = new Set<NodeJS.Timeout>();
  closed: Promise<void> = Promise.resolve();
  isClosed = true;
  /** performance.now() when the current connection was seen to close. */
  closedAt = 0;

  constructor(
    readonly name: string,
    /** Decides what happens to each delivery. */
    public action: (d: JobDelivery) => JobAction,
  ) {}

  /** A worker that takes `delayMs` per job and acknowledges with success. */
  static steady(name: string, delayMs: number): QueueWorker {
    return new QueueWorker(name, () => ({ delayMs }));
  }

  /** Opens a (new) connection with clean start; earlier records are kept. */
  async connect(port: number, opts: { version?: 4 | 5; clientId?: string; receiveMaximum?: number } = {}): Promise<void> {
    const version = opts.version ?? 5;
    this.version = version;
    this.holding.clear();
    const socket = await openSocket(port);
    this.socket = socket;
    this.isClosed = false;
    this.closed = attach(socket, version, (p) => this.onPacket(socket, p)).then(() => {
      if (this.socket !== socket) return;
      this.isClosed = true;
      this.closedAt = performance.now();
    });
    const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId: opts.clientId ?? this.name };
    if (version === 5 && opts.receiveMaximum !== undefined) connect.properties = { receiveMaximum: opts.receiveMaximum };
    await handshake(socket, version, connect, this.closed, (f) => this.waiters.set('connack', f as (p: Packet) => void));
  }

  /** SUBSCRIBE (sent at once, in the caller's tick) and its SUBACK; resolves with the granted codes. */
  subscribe(filter: string, qos: 0 | 1 | 2 = 1, messageId = 1): Promise<number[]> {
    const got = waitFor<Packet>('SUBACK', SUBACK_TIMEOUT_MS, this.closed, (f) => this.waiters.set('suback', f));
    this.send({ cmd: 'subscribe', messageId, subscriptions: [{ topic: filter, qos }] });
    return got.then((p) => (p as ISubackPacket).granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos)));
  }

  /** Sends PINGREQ and waits for PINGRESP: everything the broker sent before it has arrived. */
  ping(timeoutMs = 3000): Promise<void> {
    const got = waitFor<Packet>('PINGRESP', timeoutMs, this.closed, (f) => this.waiters.set('pingresp', f));
    this.send({ cmd: 'pingreq' });
    return got.then(() => undefined);
  }

  private send(p: Packet): void {
    this.socket?.write(mqtt.generate(p, { protocolVersion: this.version }));
  }

  private onPacket(socket: net.Socket, p: Packet): void {
    if (p.cmd !== 'publish') {
      const w = this.waiters.get(p.cmd);
      if (w !== undefined) {
        this.waiters.delete(p.cmd);
        w(p);
      }
      return;
    }
    const pub = p as IPublishPacket;
    const d: JobDelivery = {
      job: Number(pub.payload.toString()),
      topic: pub.topic,
      packetId: pub.messageId ?? 0,
      qos: pub.qos,
      dup: pub.dup,
      // A plain object (mqtt-packet builds it without a prototype).
      userProperties: { ...(pub.properties?.userProperties ?? {}) } as Record<string, string | string[]>,
      at: performance.now(),
    };
    this.deliveries.push(d);
    this.onDelivery?.(d);
    if (pub.qos === 0) return;
    this.holding.set(d.packetId, d);
    const action = this.action(d);
    if (action === 'hold') return;
    const reasonCode = action.reasonCode ?? 0;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.socket !== socket || socket.destroyed || !socket.writable) {
        this.abandoned.push(d.job);
        return;
      }
      this.holding.delete(d.packetId);
      const at = performance.now();
      socket.write(mqtt.generate({ cmd: 'puback', messageId: d.packetId, reasonCode } as Packet, { protocolVersion: this.version }));
      this.acks.push({ job: d.job, reasonCode, at, serviceMs: at - d.at });
    }, action.delayMs);
    this.timers.add(timer);
  }

  /** Jobs acknowledged with success (reason code < 0x80). */
  processed(): number[] {
    return this.acks.filter((a) => a.reasonCode < 0x80).map((a) => a.job);
  }

  /** Closes the socket without DISCONNECT (as a crashed worker's would be). */
  destroy(): void {
    this.socket?.destroy();
  }

  /** DISCONNECT, then close. */
  disconnect(): void {
    if (this.socket !== undefined && this.socket.writable) this.socket.end(mqtt.generate({ cmd: 'disconnect' } as Packet, { protocolVersion: this.version }));
    else this.socket?.destroy();
  }

  /** Stops pending processing timers and closes the connection. */
  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.socket?.destroy();
  }
}

/** Waits until `done()` is true, checking every `stepMs`; false if `timeoutMs` passed first. */
export async function until(done: () => boolean, timeoutMs: number, stepMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}
