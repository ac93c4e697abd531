// Helpers for CONNECT-level tests: MQTT.js connects that expose the CONNACK or the refusal, hand-built CONNECT
// bytes for packets mqtt-packet refuses to generate, and waiting for an MQTT.js client's connection to close.

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { IConnackPacket } from 'mqtt-packet';

/** Connects with MQTT.js (protocolVersion 5 unless given) and returns the client with the CONNACK it received. */
export async function connectWithConnack(url: string, opts: IClientOptions = {}): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...opts });
  try {
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', (p) => resolve(p as unknown as IConnackPacket));
      client.once('error', reject);
      client.once('close', () => reject(new Error('closed before CONNACK')));
    });
    return { client, connack };
  } catch (err) {
    client.end(true);
    throw err;
  }
}

/** Connects with MQTT.js expecting a refusal; resolves with the CONNACK code MQTT.js reports (error.code). */
export async function connectRefused(url: string, opts: IClientOptions = {}): Promise<number> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...opts });
  try {
    return await new Promise<number>((resolve, reject) => {
      client.once('connect', () => reject(new Error('connection was accepted')));
      client.once('error', (err) => resolve((err as Error & { code: number }).code));
      client.once('close', () => reject(new Error('closed without a CONNACK refusal')));
    });
  } finally {
    client.end(true);
  }
}

/** Resolves when the MQTT.js client's network connection closes (or rejects after timeoutMs). */
export function mqttjsClosed(client: MqttClient, timeoutMs = 3000): Promise<void> {
  if (!client.connected && client.stream?.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('MQTT.js connection not closed')), timeoutMs);
    client.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * A CONNECT packet built byte by byte (no will, user name or password): for the cases mqtt-packet will not
 * generate, such as an empty client identifier with clean session 0 on 3.1.1, or an unknown protocol level.
 */
export function connectBytes(opts: { protocolName?: string; level: number; clean: boolean; keepalive?: number; clientId: string }): Buffer {
  const name = Buffer.from(opts.protocolName ?? 'MQTT');
  const id = Buffer.from(opts.clientId);
  const keepalive = opts.keepalive ?? 60;
  const body = Buffer.concat([
    u16(name.length),
    name,
    Buffer.from([opts.level, opts.clean ? 0x02 : 0x00]),
    u16(keepalive),
    ...(opts.level === 5 ? [Buffer.from([0])] : []), // empty property list
    u16(id.length),
    id,
  ]);
  if (body.length > 127) throw new Error('connectBytes: body too long for a one-byte remaining length');
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
