// An in-process Wharf (real store) with bridges built from a `bridges:` YAML-shaped object, a real Mosquitto as the
// upstream behind a TcpProxy, and an observer on the upstream: the parts every bridge suite needs.

import { Broker } from '../../src/broker/broker.js';
import { validateConfig } from '../../src/config/validate.js';
import type { BridgeConfig } from '../../src/config/bridges.js';
import type { WharfConfig } from '../../src/config/types.js';
import { createBridges, type BridgeSet } from '../../src/bridge/manager.js';
import type { Bridge } from '../../src/bridge/bridge.js';
import { newDataDir, removeDataDir, startBrokerOn, type DurableBroker } from '../helpers/durable-broker.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { UpstreamMosquitto, UpstreamObserver } from '../helpers/upstream-mosquitto.js';
import { waitFor } from '../helpers/tools.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';

export interface Rig {
  upstream: UpstreamMosquitto;
  proxy: TcpProxy;
  observer: UpstreamObserver;
  dataDir: string;
  wharf: DurableBroker;
  bridges: BridgeSet;
  bridge: Bridge;
  /** Stops the bridges and the broker (graceful) and starts both again on the same data directory. */
  restartWharf(): Promise<void>;
  dispose(): Promise<void>;
}

/** The bridge configuration `raw` (one bridge, YAML shape; `url` is filled in) validated as the file's would be. */
export function bridgeConfig(raw: Record<string, unknown>, url: string): BridgeConfig[] {
  const result = validateConfig({ bridges: [{ name: 'cloud', url, reconnectMinDelay: '50ms', reconnectMaxDelay: '200ms', ...raw }] });
  if ('errors' in result) throw new Error(result.errors.join('\n'));
  return result.config.bridges;
}

async function startWharf(dataDir: string, configs: BridgeConfig[], tweak?: (c: WharfConfig) => void): Promise<{ wharf: DurableBroker; bridges: BridgeSet }> {
  // Bridges' outbox queues are declared before the listener takes publishes, as `wharf start` does.
  let bridges: BridgeSet | undefined;
  const wharf = await startBrokerOn(dataDir, { maxQueuedMessages: 1_000_000 }, (c) => {
    c.bridges = configs;
    c.storage.commitIntervalMs = 2;
    tweak?.(c);
  });
  bridges = await createBridges(wharf.broker, configs, (wharf.broker as Broker).log);
  bridges.start();
  return { wharf, bridges };
}

export async function rig(raw: Record<string, unknown>, observe: string[] = ['#'], tweak?: (c: WharfConfig) => void): Promise<Rig> {
  const upstream = new UpstreamMosquitto();
  await upstream.start();
  const proxy = new TcpProxy(upstream.port);
  await proxy.start();
  const observer = await UpstreamObserver.connect(upstream.url, observe);
  const dataDir = newDataDir('wharf-bridge-');
  const configs = bridgeConfig(raw, `mqtt://127.0.0.1:${proxy.port}`);
  let { wharf, bridges } = await startWharf(dataDir, configs, tweak);
  const r: Rig = {
    upstream,
    proxy,
    observer,
    dataDir,
    wharf,
    bridges,
    bridge: bridges.bridges[0]!,
    async restartWharf() {
      await r.bridges.stop();
      await r.wharf.stop();
      ({ wharf, bridges } = await startWharf(dataDir, configs, tweak));
      r.wharf = wharf;
      r.bridges = bridges;
      r.bridge = bridges.bridges[0]!;
    },
    async dispose() {
      await r.bridges.stop().catch(() => undefined);
      await r.wharf.stop().catch(() => undefined);
      await r.observer.close().catch(() => undefined);
      await proxy.stop();
      await upstream.dispose();
      removeDataDir(dataDir);
    },
  };
  await waitFor(() => r.bridge.health.state === 'healthy', 10_000, 'the bridge to connect');
  return r;
}

/** `n` strings `${prefix}-0` ... in order. */
export function sequence(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

/** True when `got` holds every one of `want` and, leaving duplicates aside, in the order of `want`. */
export function inOrderAtLeastOnce(got: string[], want: string[]): string | undefined {
  const index = new Map(want.map((w, i) => [w, i]));
  let high = -1;
  const seen = new Set<string>();
  for (const g of got) {
    const i = index.get(g);
    if (i === undefined) continue;
    if (!seen.has(g)) {
      if (i < high) return `${g} arrived after ${want[high]}`;
      seen.add(g);
      high = Math.max(high, i);
    }
  }
  const missing = want.filter((w) => !seen.has(w));
  return missing.length > 0 ? `${missing.length} missing, first ${missing[0]}` : undefined;
}

/** Publishes `payloads` in order from one MQTT 5 client, all acknowledged. */
export async function publishAll(url: string, topic: string, payloads: string[], qos: 0 | 1 = 1): Promise<void> {
  const c = await connectClient(url);
  try {
    // Publish order is the order the test compares against; batches stay below Wharf's Receive Maximum (1024),
    // which MQTT.js does not enforce on its own.
    for (let i = 0; i < payloads.length; i += 500) await Promise.all(payloads.slice(i, i + 500).map((p) => c.publishAsync(topic, p, { qos })));
  } finally {
    await endClient(c);
  }
}

/** A rig for the length of `fn`, disposed of after it. */
export async function withRig(raw: Record<string, unknown>, fn: (r: Rig) => Promise<void>, observe?: string[], tweak?: (c: WharfConfig) => void): Promise<void> {
  const r = await rig(raw, observe, tweak);
  try {
    await fn(r);
  } finally {
    await r.dispose();
  }
}

