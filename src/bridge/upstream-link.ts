// The connection to the upstream broker: one MQTT.js client per connection (never reconnected by MQTT.js itself,
// so its outgoing store cannot replay what the bridge resends from the outbox, MQTT.js#2015), reconnection with
// decorrelated jitter cycling the URL list, and the limits the upstream's CONNACK sets.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { BridgeConfig } from '../config/bridges.js';
import type { Logger } from '../log/logger.js';
import { Backoff } from './backoff.js';
import { MqttJsPacketIds } from './outbox-writer.js';

export type AckHandler = NonNullable<IClientOptions['customHandleAcks']>;

export interface LinkEvents {
  /** CONNACK accepted: the link may carry messages. */
  up(client: MqttClient, connack: IConnackPacket): void;
  /** The connection that was up is gone (or a connection attempt failed: `wasUp` false). */
  down(reason: string, wasUp: boolean): void;
  /** Any packet from the upstream (acknowledgements, PINGRESP): the link is alive. */
  heard(cmd: string): void;
}

export class UpstreamLink {
  private client: MqttClient | null = null;
  private up = false;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly backoff: Backoff;
  private urlIndex = 0;
  /** Connections that reached CONNACK after the first. */
  reconnects = 0;
  private everUp = false;
  lastError: string | undefined;
  /** From CONNACK (MQTT 5): how many QoS 1/2 messages the upstream takes unacknowledged, the largest packet. */
  receiveMaximum = 65535;
  maximumPacketSize = 0;
  topicAliasMaximum = 0;
  /** When the next attempt starts (0: none scheduled). */
  nextAttemptAt = 0;

  constructor(
    private readonly config: BridgeConfig,
    private readonly log: Logger,
    private readonly events: LinkEvents,
    private readonly handleAcks: AckHandler,
  ) {
    this.backoff = new Backoff(config.reconnectMinDelayMs, config.reconnectMaxDelayMs);
  }

  get connected(): boolean {
    return this.up;
  }

  get url(): string {
    return this.config.urls[this.urlIndex]!;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    if (client === null) return;
    // Not waiting for in-flight messages (they stay in the outbox), and bounded: a black-holed link never answers.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.end(true, {}, () => (clearTimeout(timer), resolve()));
    });
    this.dropClient(client, 'stopped');
  }

  /** Tears the current connection down (stall, local store failure): it reconnects after the backoff. */
  teardown(reason: string): void {
    const client = this.client;
    if (client === null) return;
    this.log.warn('bridge link torn down', { bridge: this.config.name, reason });
    client.stream?.destroy();
    client.end(true);
    this.dropClient(client, reason);
  }

  private options(): IClientOptions {
    const c = this.config;
    const file = (p: string | undefined) => (p === undefined ? undefined : readFileSync(p));
    const properties = c.protocolVersion === 5 ? { sessionExpiryInterval: Math.min(0xffffffff, Math.floor(c.sessionExpiryMs / 1000)) } : undefined;
    return {
      clientId: c.clientId,
      protocolVersion: c.protocolVersion,
      clean: c.cleanStart,
      keepalive: Math.round(c.keepAliveMs / 1000),
      username: c.username,
      password: c.password,
      ca: file(c.ca),
      cert: file(c.cert),
      key: file(c.key),
      properties,
      connectTimeout: c.connectTimeoutMs,
      // Reconnection, resubscription and the outgoing queue are the bridge's: MQTT.js must not replay or queue anything.
      reconnectPeriod: 0,
      resubscribe: false,
      queueQoSZero: false,
      customHandleAcks: this.handleAcks,
      // The outbox writes its PUBLISH packets itself with identifiers from FIRST_OUTBOX_PACKET_ID up; MQTT.js stays below.
      messageIdProvider: new MqttJsPacketIds(),
      // A PINGREQ every keep alive whatever the traffic (a clear/set timer per acknowledgement costs more than a
      // ping); it doubles as the health probe while the outbox is empty.
      reschedulePings: false,
    };
  }

  private connect(): void {
    if (this.stopped) return;
    this.nextAttemptAt = 0;
    let client: MqttClient;
    try {
      client = mqtt.connect(this.url, this.options());
    } catch (err) {
      this.lastError = (err as Error).message;
      this.scheduleRetry();
      return;
    }
    this.client = client;
    client.on('connect', (connack) => {
      if (this.client !== client) return;
      const p = connack.properties;
      this.receiveMaximum = p?.receiveMaximum ?? 65535;
      this.maximumPacketSize = p?.maximumPacketSize ?? 0;
      this.topicAliasMaximum = p?.topicAliasMaximum ?? 0;
      this.up = true;
      this.lastError = undefined;
      if (this.everUp) this.reconnects++;
      this.everUp = true;
      this.backoff.reset();
      this.log.info('bridge connected', { bridge: this.config.name, url: this.url, receiveMaximum: this.receiveMaximum, sessionPresent: connack.sessionPresent });
      this.events.up(client, connack);
    });
    client.on('packetreceive', (packet) => {
      if (this.log.isDebug()) this.log.debug('bridge packet', { cmd: packet.cmd });
      if (this.client === client) this.events.heard(packet.cmd);
    });
    client.on('error', (err) => {
      if (this.client !== client) return;
      this.lastError = err.message;
    });
    client.on('close', () => {
      if (this.client === client) this.dropClient(client, this.lastError ?? 'connection closed');
    });
  }

  private dropClient(client: MqttClient, reason: string): void {
    if (this.client !== client) return;
    this.client = null;
    const wasUp = this.up;
    this.up = false;
    client.removeAllListeners('connect');
    client.removeAllListeners('packetreceive');
    client.removeAllListeners('close');
    client.on('error', () => undefined);
    client.end(true);
    if (wasUp) this.log.warn('bridge disconnected', { bridge: this.config.name, url: this.url, reason });
    this.events.down(reason, wasUp);
    // The next attempt goes to the next URL of the list (failover).
    if (!wasUp || this.config.urls.length > 1) this.urlIndex = (this.urlIndex + 1) % this.config.urls.length;
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== null) return;
    const delay = this.backoff.next();
    this.nextAttemptAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
