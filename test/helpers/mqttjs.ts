// MQTT.js (npm mqtt) as the reference client in tests: promise helpers around connect and message collection.

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export async function connectClient(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...opts });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

export interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

/** Collects messages into an array; `waitCount(n)` resolves when n have arrived. */
export function collect(client: MqttClient) {
  const messages: Received[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), packet });
    waiters = waiters.filter((w) => {
      if (messages.length >= w.n) w.resolve();
      return messages.length < w.n;
    });
  });
  return {
    messages,
    waitCount(n: number, timeoutMs = 3000): Promise<void> {
      if (messages.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`got ${messages.length} of ${n} messages`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
  };
}

export function endClient(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}
