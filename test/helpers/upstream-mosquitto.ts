// A real Mosquitto started by a test as the bridge's upstream broker, on a free loopback port, persistence off
// unless asked (so a restart loses what it held, as a cloud broker failing over may), and an observer client on it
// that records what arrives with a persistent session.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { freePort, portAccepts } from './broker-process.js';
import { startProcess } from './tools.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export class UpstreamMosquitto {
  readonly dir = mkdtempSync(join(tmpdir(), 'wharf-upstream-'));
  port = 0;
  private proc: ReturnType<typeof startProcess> | null = null;

  constructor(private readonly extraConf = '') {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts it (again on the same port after stop()); resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n${this.extraConf}`);
    this.proc = startProcess(MOSQUITTO, ['-c', conf]);
    for (let i = 0; i < 500 && !(await portAccepts(this.port)); i++) {
      if (this.proc.child.exitCode !== null) throw new Error(`mosquitto exited: ${this.proc.output()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** SIGKILL: what it held in memory is gone. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (p === null) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A subscriber on the upstream recording topic|payload in arrival order (a persistent session: it misses nothing). */
export class UpstreamObserver {
  readonly received: { topic: string; payload: string; dup: boolean; retain: boolean; userProperties: Record<string, unknown> | undefined }[] = [];
  private constructor(readonly client: MqttClient) {}

  static async connect(url: string, filters: string[], clientId = `observer-${process.pid}-${Math.random().toString(16).slice(2)}`): Promise<UpstreamObserver> {
    const client = mqtt.connect(url, { clientId, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 200 });
    const observer = new UpstreamObserver(client);
    client.on('message', (topic, payload, packet) => observer.received.push({ topic, payload: payload.toString(), dup: packet.dup, retain: packet.retain, userProperties: packet.properties?.userProperties }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(filters, { qos: 1 });
    return observer;
  }

  payloads(topic?: string): string[] {
    return this.received.filter((r) => topic === undefined || r.topic === topic).map((r) => r.payload);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
