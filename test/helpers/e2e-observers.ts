// Observers of a real `wharf` process for end-to-end tests: a mosquitto_sub that records every message it gets
// (with an end marker proving that nothing else is still on its way), a /metrics sample, and log line counts.

import type { ChildProcess } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import type { WharfProcess } from './broker-process.js';
import { connectClient, endClient } from './mqttjs.js';
import { startProcess, waitFor } from './tools.js';

let instances = 0;

/** mosquitto_sub on `filter` (plus a private marker topic), printing `topic|payload` per message. */
export class MosquittoSub {
  private markers = 0;

  private constructor(
    private readonly proc: { child: ChildProcess; output: () => string; exited: Promise<number | null> },
    private readonly markerTopic: string,
    private readonly prober: MqttClient,
  ) {}

  static async start(broker: WharfProcess, filter: string, args: string[] = []): Promise<MosquittoSub> {
    const id = `observer-${process.pid}-${++instances}`;
    const markerTopic = `markers/${id}`;
    const proc = startProcess('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(broker.port), '-i', id, '-t', filter, '-t', markerTopic, '-F', '%t|%p', ...args]);
    const prober = await connectClient(broker.url, { clientId: `${id}-marker` });
    const sub = new MosquittoSub(proc, markerTopic, prober);
    // Subscribed once a probe comes through (probes are repeated until then: no guessing how long SUBSCRIBE takes).
    await waitFor(
      () => {
        if (sub.lines().includes(`${markerTopic}|probe`)) return true;
        prober.publish(markerTopic, 'probe', { qos: 0 });
        return false;
      },
      5000,
      `mosquitto_sub on ${filter} to subscribe; output: ${proc.output()}`,
    );
    return sub;
  }

  lines(): string[] {
    return this.proc.output().split('\n');
  }

  /** How many received messages print exactly as `line` (`topic|payload`). */
  count(line: string): number {
    return this.lines().filter((l) => l === line).length;
  }

  /** Publishes a marker at QoS 1 and waits until it arrives: whatever was routed before it has arrived too. */
  async marker(): Promise<void> {
    const text = `marker-${++this.markers}`;
    await this.prober.publishAsync(this.markerTopic, text, { qos: 1 });
    await waitFor(() => this.count(`${this.markerTopic}|${text}`) === 1, 5000, `marker ${text}`);
  }

  async stop(): Promise<void> {
    await endClient(this.prober, true);
    if (this.proc.child.exitCode === null && this.proc.child.signalCode === null) this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }
}

/** The value of one sample of GET /metrics: the series named `name` whose labels include `labels`; 0 if absent. */
export async function metric(broker: WharfProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.adminPort}/metrics`)).text();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const have = new Map([...(m[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[3]);
  }
  return 0;
}

export function countLines(output: string, pattern: RegExp): number {
  return output.split('\n').filter((l) => pattern.test(l)).length;
}
