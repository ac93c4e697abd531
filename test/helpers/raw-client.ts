// A bare MQTT client over a TCP socket for protocol-level tests: sends exact packets (or bytes) and exposes
// every packet the broker sends back, in order.

import net from 'node:net';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';

export class RawClient {
  private readonly received: Packet[] = [];
  private waiters: Array<() => void> = [];
  private parser: ReturnType<typeof mqtt.parser>;
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(
    readonly socket: net.Socket,
    public protocolVersion: 3 | 4 | 5,
  ) {
    this.parser = mqtt.parser({ protocolVersion });
    this.parser.on('packet', (p: Packet) => {
      this.received.push(p);
      this.wake();
    });
    this.parser.on('error', (e: Error) => {
      this.received.push({ cmd: 'error', message: e.message } as unknown as Packet);
      this.wake();
    });
    socket.on('data', (d) => this.parser.parse(d));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      });
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, protocolVersion: 3 | 4 | 5 = 5): Promise<RawClient> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, protocolVersion);
  }

  /** Opens a connection and completes CONNECT/CONNACK; returns the client and its CONNACK. */
  static async connected(port: number, connect: Partial<mqtt.IConnectPacket> = {}, protocolVersion: 3 | 4 | 5 = 5) {
    const c = await RawClient.connect(port, protocolVersion);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clean: true, keepalive: 60, clientId: '', ...connect } as Packet);
    const connack = (await c.next('connack')) as mqtt.IConnackPacket;
    return { client: c, connack };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(packet: Packet): void {
    this.socket.write(mqtt.generate(packet, { protocolVersion: this.protocolVersion }));
  }

  sendBytes(bytes: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  }

  /** Next received packet (of the given type, skipping none: a different type fails). */
  async next(cmd?: string, timeoutMs = 3000): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.isClosed) throw new Error(`connection closed while waiting for ${cmd ?? 'a packet'}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${cmd ?? 'a packet'}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const p = this.received.shift()!;
    if (cmd !== undefined && p.cmd !== cmd) throw new Error(`expected ${cmd}, got ${p.cmd}: ${JSON.stringify(p)}`);
    return p;
  }

  /** Waits for the broker to close the connection; returns the packets received meanwhile (e.g. DISCONNECT). */
  async expectClose(timeoutMs = 3000): Promise<Packet[]> {
    const t = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connection not closed by broker')), timeoutMs).unref());
    await Promise.race([this.closed, t]);
    return this.received.splice(0);
  }

  end(): void {
    this.socket.destroy();
  }
}
