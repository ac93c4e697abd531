// A lean persistent-session subscriber for durability tests: connects with clean start 0 (MQTT 5 with a session
// expiry, or 3.1.1 clean session 0), subscribes, goes offline, comes back and drains: every QoS 1 PUBLISH is
// acknowledged (PUBACK), every QoS 2 one completed (PUBREC, then PUBCOMP on PUBREL), until nothing has arrived
// for a quiet period (fenced by a PINGREQ round trip). RawClient-based tests use end-marker.ts instead.

import net from 'node:net';
import mqtt from 'mqtt-packet';
import type { IConnackPacket, IConnectPacket, IPublishPacket, ISubackPacket, ISubscription, Packet } from 'mqtt-packet';

export interface DrainedMessage {
  topic: string;
  payload: Buffer;
  qos: number;
  dup: boolean;
  retain: boolean;
}

export interface DrainResult {
  messages: DrainedMessage[];
  /** Drain ended because maxMs passed while messages were still coming. */
  cutShort: boolean;
  /** The broker closed the connection during the drain. */
  connectionLost: boolean;
}

export class DrainSubscriber {
  private readonly parser: ReturnType<typeof mqtt.parser>;
  private readonly waiting = new Map<string, (p: Packet) => void>();
  private onPublish: ((m: DrainedMessage) => void) | undefined;
  private lastActivity = Date.now();
  /** Messages that arrived before drain() was called (e.g. right after CONNACK). */
  private readonly early: DrainedMessage[] = [];
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    readonly version: 4 | 5,
  ) {
    this.parser = mqtt.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.handle(p));
    this.parser.on('error', (e: Error) => socket.destroy(e));
    socket.on('data', (d) => {
      socket.cork();
      this.parser.parse(d);
      socket.uncork();
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.on('close', () => ((this.isClosed = true), resolve())));
  }

  /**
   * Connects `clientId` with clean start 0: on 5.0 with the given session expiry, on 3.1.1 with clean session 0.
   * Returns the subscriber and whether the broker said the session was present.
   */
  static async connect(port: number, clientId: string, version: 4 | 5, sessionExpiry = 3600): Promise<{ sub: DrainSubscriber; sessionPresent: boolean }> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const sub = new DrainSubscriber(socket, version);
    const connect: IConnectPacket = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: false, keepalive: 0, clientId };
    if (version === 5) connect.properties = { sessionExpiryInterval: sessionExpiry };
    sub.send(connect);
    try {
      const connack = (await sub.expect('connack')) as IConnackPacket;
      const code = version === 5 ? connack.reasonCode : connack.returnCode;
      if (code !== 0) throw new Error(`subscriber ${clientId}: CONNACK refused with ${code}`);
      return { sub, sessionPresent: connack.sessionPresent };
    } catch (err) {
      sub.end();
      throw err;
    }
  }

  send(p: Packet): void {
    this.socket.write(mqtt.generate(p, { protocolVersion: this.version }));
  }

  /** SUBSCRIBE and its SUBACK; fails unless every filter is granted the QoS asked for. */
  async subscribe(subscriptions: ISubscription[], messageId = 1): Promise<void> {
    this.send({ cmd: 'subscribe', messageId, subscriptions });
    const suback = (await this.expect('suback')) as ISubackPacket;
    const granted = suback.granted.map((g) => (typeof g === 'number' ? g : (g as { qos: number }).qos));
    const wanted = subscriptions.map((s) => s.qos);
    if (JSON.stringify(granted) !== JSON.stringify(wanted)) throw new Error(`SUBACK granted ${JSON.stringify(granted)}, wanted ${JSON.stringify(wanted)}`);
  }

  /** Sends DISCONNECT (normal, the session stays) and waits until the broker has closed the connection. */
  async disconnect(): Promise<void> {
    if (this.isClosed) return;
    this.send({ cmd: 'disconnect' } as Packet);
    const t = setTimeout(() => this.socket.destroy(), 3000);
    await this.closed;
    clearTimeout(t);
  }

  end(): void {
    this.socket.destroy();
  }

  /**
   * Receives (and acknowledges) messages until none has arrived for `quietMs` and a PINGREQ sent then is
   * answered with no PUBLISH before its PINGRESP; or until `maxMs` has passed, or the connection ends. Messages
   * that arrived before drain() was called are included.
   */
  async drain(quietMs: number, maxMs: number): Promise<DrainResult> {
    const messages = this.early.splice(0);
    this.onPublish = (m) => messages.push(m);
    const started = Date.now();
    let cutShort = false;
    try {
      while (!this.isClosed) {
        const now = Date.now();
        if (now - started >= maxMs) {
          cutShort = true;
          break;
        }
        if (now - this.lastActivity >= quietMs && now - started >= quietMs) {
          // Quiet is not enough: a broker whose event loop is busy with our acknowledgements is quiet too. It
          // answers a PINGREQ after everything sent before it, and the PUBLISH packets those acknowledgements
          // released go out before the PINGRESP: only a PINGRESP with no PUBLISH before it ends the drain.
          const before = messages.length;
          this.send({ cmd: 'pingreq' });
          try {
            await this.expect('pingresp', Math.max(1, maxMs - (now - started)));
          } catch {
            if (!this.isClosed) cutShort = true;
            break;
          }
          if (messages.length === before) break;
          continue;
        }
        await Promise.race([new Promise((r) => setTimeout(r, 25)), this.closed]);
      }
    } finally {
      this.onPublish = undefined;
    }
    return { messages, cutShort, connectionLost: this.isClosed };
  }

  private expect(cmd: string, timeoutMs = 5000): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => (this.waiting.delete(cmd), reject(new Error(`timed out waiting for ${cmd}`))), timeoutMs);
      this.closed.then(() => (clearTimeout(t), reject(new Error(`connection closed while waiting for ${cmd}`))));
      this.waiting.set(cmd, (p) => (clearTimeout(t), resolve(p)));
    });
  }

  private handle(p: Packet): void {
    if (p.cmd === 'publish' || p.cmd === 'pubrel') this.lastActivity = Date.now();
    if (p.cmd === 'publish') {
      const pub = p as IPublishPacket;
      const m: DrainedMessage = { topic: pub.topic, payload: pub.payload as Buffer, qos: pub.qos, dup: pub.dup, retain: pub.retain };
      if (this.onPublish) this.onPublish(m);
      else this.early.push(m);
      if (pub.qos === 1) this.send({ cmd: 'puback', messageId: pub.messageId! });
      else if (pub.qos === 2) this.send({ cmd: 'pubrec', messageId: pub.messageId! });
      return;
    }
    if (p.cmd === 'pubrel') {
      this.send({ cmd: 'pubcomp', messageId: p.messageId! });
      return;
    }
    const w = this.waiting.get(p.cmd);
    if (w) {
      this.waiting.delete(p.cmd);
      w(p);
    }
  }
}
