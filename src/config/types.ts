// The shape of Wharf's configuration after validation; every field is filled (defaults applied).
// The YAML file, environment variables and command-line flags all end up in this one object.

import { DEFAULT_QUEUE_SETTINGS, type QueueDefinition } from '../queue/types.js';
import type { BridgeConfig } from './bridges.js';

export type ListenerType = 'tcp' | 'ws' | 'tls' | 'wss';

export interface ListenerConfig {
  type: ListenerType;
  host: string;
  port: number;
  /** WebSocket listeners only: the HTTP path that upgrades to MQTT. */
  path: string;
  /** TLS listeners only: PEM file paths. */
  cert?: string;
  key?: string;
  ca?: string;
  /** tls/wss only: clients must present a certificate signed by `ca` (mutual TLS). */
  requireCertificate?: boolean;
  /** tls/wss with requireCertificate: the certificate's Common Name is the client's user name (Mosquitto's use_identity_as_username). */
  useIdentityAsUsername?: boolean;
}

export interface MqttLimits {
  /** Largest packet accepted from a client and announced as Maximum Packet Size in CONNACK. */
  maxPacketSize: number;
  /** QoS 1/2 publishes a client may have unacknowledged towards the broker (Receive Maximum in CONNACK). */
  receiveMaximum: number;
  /** Topic aliases a client may use towards the broker (Topic Alias Maximum in CONNACK). */
  topicAliasMaximum: number;
  /** Largest keep alive accepted, seconds; a larger request is answered with Server Keep Alive (5.0). */
  maxKeepAlive: number;
  /** Largest session expiry interval granted, seconds; also the expiry of 3.1.1 clean-session-0 sessions. */
  maxSessionExpiryInterval: number;
  /** Messages a session may hold (queued while offline or while its inflight window is full). */
  maxQueuedMessages: number;
  /** Subscriptions one session may hold; beyond it SUBACK answers Quota exceeded. */
  maxSubscriptionsPerSession: number;
  /** Allow an empty client identifier (the broker assigns one). */
  allowEmptyClientId: boolean;
  /** Longest client identifier accepted, in bytes. */
  maxClientIdLength: number;
  /** Retained messages the broker keeps; beyond it new retained topics are not stored. */
  maxRetainedMessages: number;
  /** Bytes a subscriber's socket may have buffered before QoS 0 messages to it are dropped. */
  maxSocketBufferBytes: number;
  /** Connected clients (after CONNECT) at most; beyond it CONNACK answers 0x97 Quota exceeded (3.1.1: 3 Server unavailable). */
  maxConnections: number;
  /** A socket that has sent no CONNECT within this time (ms; a duration such as "10s" in the file) is closed. */
  connectTimeout: number;
  /** Sockets from one source address that have not completed CONNECT yet; more are closed at once. */
  maxPendingConnectionsPerAddress: number;
}

export interface AuthConfig {
  /**
   * Clients without a user name (nor a certificate identity) may connect. Unset: true, unless a password file or
   * a listener requiring client certificates is configured (see anonymousAllowed in config/auth.ts).
   */
  allowAnonymous: boolean | undefined;
  /** Mosquitto-format password file (`user:hash` lines); reloaded on SIGHUP. */
  passwordFile: string | undefined;
  /** Mosquitto-format ACL file plus queue rules; reloaded on SIGHUP. Unset: every client may do everything. */
  aclFile: string | undefined;
}

export interface StorageConfig {
  dataDir: string;
  /** Longest a durable write waits for its group commit to start (DESIGN.md, durability contract). */
  commitIntervalMs: number;
  /** Most bytes of writes one commit takes; more wait for the next. */
  commitMaxBytes: number;
  /** Most commits (fsyncs) per second: the flash-wear bound of the board. */
  commitMaxPerSecond: number;
  /** While commits run back to back at over half that rate, a commit waits for this many bytes (at most commitIntervalMs). */
  commitMinBatchBytes: number;
  /** Payloads larger than this go to the payload store instead of inline in LMDB records. */
  inlineMaxBytes: number;
  /** Cap on LMDB's live pages; beyond it new messages are refused with Quota exceeded. */
  mapSizeBytes: number;
  /** Refuse new messages when the disk holding the data directory has less free space than this. */
  minFreeDiskBytes: number;
  /** Publishing sockets stop being read while more than this many bytes wait for their commit. */
  maxPendingBytes: number;
  /** Payload store: native (addon, zero-copy reads), js (file I/O) or auto (native when the addon loads). */
  payloadStore: 'native' | 'js' | 'auto';
  /** Size of a payload segment file; the board profile picks it (smaller on boards with little RAM/flash). */
  payloadSegmentBytes: number;
  /** Acknowledge after an fdatasync of the append-only commit log; LMDB follows in batches (src/store/README.md). */
  commitLog: boolean;
}

/** A queue's settings without its identity: what `queues.defaults` holds. */
export type QueueSettings = Omit<QueueDefinition, 'name' | 'topicFilter' | 'maxInstances' | 'template' | 'templateValues'>;

/** What `$queue/...` subscriptions mean: EMQX 6.1's named queues, or EMQX 4.x/5.x's shared subscriptions. */
export type DollarQueueMeaning = 'named' | 'shared';

export interface QueuesConfig {
  /** A consuming subscription ($q/<filter>, $queue/<name>/<filter>) to a missing queue creates it with `defaults`. */
  autoCreate: boolean;
  /** Settings of auto-created queues, and of the fields a declared queue omits. */
  defaults: QueueSettings;
  /** Queues declared in the file (validated: unique names and filters, dead-letter targets declared). */
  definitions: QueueDefinition[];
  /** `named`: `$queue/<name>[/<filter>]` consumes a queue (EMQX 6.1); `shared`: `$queue/<filter>` is a shared subscription (EMQX 4/5). */
  dollarQueue: DollarQueueMeaning;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface AdminConfig {
  /** Serve the admin HTTP API (/metrics, /healthz, /api/v1/). */
  enabled: boolean;
  /** `HOST:PORT` (`[::1]:18083` for IPv6); loopback by default, so the API is not on the site network unasked. */
  listen: string;
  /** Bearer token required on every request but /healthz; mandatory when `listen` is not a loopback address. */
  token: string | undefined;
}

export interface SysConfig {
  /** How often the $SYS/ topics are published, in ms; 0 = not published. */
  intervalMs: number;
}

export interface MetricsConfig {
  /**
   * Event-loop lag sampling, rate windows, GET /metrics and $SYS. The hot-path counters are plain number fields
   * and always kept (the JSON API reads them); this switch is what the metrics-cost benchmark turns off.
   */
  enabled: boolean;
}

// ---- Field devices (issue 14): buses, devices, points -----------------------------------------

export type SerialParity = 'none' | 'even' | 'odd';

/** RS-485 mode of a serial port where the driver supports it (Linux TIOCSRS485; serialport's `rs485` option). */
export interface Rs485Config {
  /** RTS level while sending (drives the transceiver's DE pin); default true. */
  rtsOnSend: boolean;
  /** RTS level after sending; default false. */
  rtsAfterSend: boolean;
  /** Keep the receiver on while sending (echo); default false. */
  rxDuringTx: boolean;
  delayRtsBeforeSendMs: number;
  delayRtsAfterSendMs: number;
}

export interface SerialBusConfig {
  name: string;
  type: 'serial';
  /** `/dev/ttyUSB0`, `/dev/serial0`, a pty in tests. */
  path: string;
  baudRate: number;
  dataBits: 7 | 8;
  parity: SerialParity;
  stopBits: 1 | 2;
  rs485: Rs485Config | undefined;
  /** Override of the 3.5-character gap between frames, ms; undefined = computed from the baud rate. */
  silentIntervalMs: number | undefined;
}

export interface TcpBusConfig {
  name: string;
  type: 'tcp';
  host: string;
  port: number;
  /** RTU frames (with CRC) over the TCP stream, for serial-to-Ethernet converters that pass them through. */
  rtuOverTcp: boolean;
  /** Only with rtuOverTcp: the converter's line still needs its silent interval. */
  silentIntervalMs: number | undefined;
}

export type BusConfig = SerialBusConfig | TcpBusConfig;

export type PointTable = 'coil' | 'discrete_input' | 'holding_register' | 'input_register';
export type PointType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'int64' | 'uint64' | 'float64' | 'string';
/**
 * Byte order of multi-byte values as EMQ Neuron names it: A is the most significant byte, registers are sent
 * high byte first by Modbus itself. ABCD: big-endian (Neuron #LL, 1234); CDAB: words swapped (#BL, 3412);
 * BADC: bytes swapped in each word (#LB, 2143); DCBA: little-endian (#BB, 4321). For 64-bit values the same
 * two swaps apply to four words (Neuron's 8-byte names 12345678, 78563412, 21436587, 87654321; see
 * src/devices/points/byte-order.ts).
 */
export type ByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';
export type PublishMode = 'change' | 'always';

/** A point after `include` and `addressBase` are applied: what the read plan and the decoder work from. */
export interface PointConfig {
  name: string;
  table: PointTable;
  /** Address on the wire (0-based), whatever the file's addressBase. */
  address: number;
  type: PointType;
  /** Registers (register tables) or bits (coil, discrete_input) the point covers from `address`. */
  quantity: number;
  /** string: length in bytes (two per register, high byte first unless byteOrder swaps bytes). */
  length: number | undefined;
  /** bool on a register table: the bit of the register, 0 = least significant. */
  bit: number | undefined;
  byteOrder: ByteOrder;
  /** Engineering value = raw * scale + offset (numeric types). */
  scale: number;
  offset: number;
  unit: string | undefined;
  /** A numeric value is published again only when it moved by more than this since it was last published. */
  deadband: number;
  /** undefined = the device's `publish`. */
  publish: PublishMode | undefined;
  /** Issue 15: commands may write the point (coil and holding_register only). */
  writable: boolean;
  /** Issue 15: bounds of a written value, engineering units. */
  min: number | undefined;
  max: number | undefined;
  /** Issue 15: the only values a command may write. */
  allowed: (number | boolean | string)[] | undefined;
}

export type ResolvedPoint = PointConfig;

interface DeviceCommon {
  name: string;
  bus: string;
  /** Template; `{device}` is replaced by the device's name. */
  topic: string;
  /** Retained online/offline/degraded document; template like `topic`. */
  statusTopic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface ModbusDeviceConfig extends DeviceCommon {
  type: 'modbus';
  unitId: number;
  pollIntervalMs: number;
  timeoutMs: number;
  retries: number;
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
  addressBase: 0 | 1;
  byteOrder: ByteOrder;
  /** A full document at least this often, even without changes; 0 = only on change. */
  heartbeatMs: number;
  publish: PublishMode;
  /** The point maps included, as written (a built-in map's name or a path); their points are in `points`. */
  include: string[];
  points: ResolvedPoint[];
  /** Commands to the device's writable points (issue 15; src/config/device-commands.ts). */
  commands: CommandsConfig;
}

export interface CommandsConfig {
  /** Template of the command topic ({device}); one point's command goes to `<topic>/<point>`. */
  topic: string;
  /** Template of the receipts' topic for commands without an MQTT 5 Response Topic. */
  resultTopic: string;
  resultQos: 0 | 1 | 2;
  maxDeliveries: number;
  redeliveryDelayMs: number;
  deadLetter: string;
}

export type LineEncoding = 'utf8' | 'latin1' | 'ascii' | 'hex' | 'base64';

export interface LineDeviceConfig extends DeviceCommon {
  type: 'line';
  delimiter: string;
  encoding: LineEncoding;
  /** Longer lines are cut at this many bytes (the rest up to the next delimiter is dropped) and counted. */
  maxLineBytes: number;
  /** Issue 15: lines to write to the port arrive here; undefined = devices/{device}/send. */
  sendTopic?: string;
}

export type DeviceConfig = ModbusDeviceConfig | LineDeviceConfig;

export interface WharfConfig {
  listeners: ListenerConfig[];
  storage: StorageConfig;
  mqtt: MqttLimits;
  log: {
    level: LogLevel;
  };
  queues: QueuesConfig;
  admin: AdminConfig;
  sys: SysConfig;
  metrics: MetricsConfig;
  /** Physical lines (RS-485 ports, Modbus TCP endpoints) that devices share. */
  buses: BusConfig[];
  devices: DeviceConfig[];
  auth: AuthConfig;
  /** Upstream bridges (src/bridge/); none by default. */
  bridges: BridgeConfig[];
}

export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:18083';

export const DEFAULT_MQTT_LIMITS: MqttLimits = {
  maxPacketSize: 1024 * 1024,
  receiveMaximum: 1024,
  topicAliasMaximum: 64,
  maxKeepAlive: 65535,
  maxSessionExpiryInterval: 0xffffffff,
  maxQueuedMessages: 1000,
  maxSubscriptionsPerSession: 1000,
  allowEmptyClientId: true,
  maxClientIdLength: 256,
  maxRetainedMessages: 100000,
  maxSocketBufferBytes: 4 * 1024 * 1024,
  maxConnections: 10_000,
  connectTimeout: 10_000,
  maxPendingConnectionsPerAddress: 256,
};

/** The embedded default: what `wharf start` runs with no configuration file. */
export function defaultConfig(): WharfConfig {
  return {
    listeners: [
      { type: 'tcp', host: '0.0.0.0', port: 1883, path: '/mqtt' },
      { type: 'ws', host: '0.0.0.0', port: 8083, path: '/mqtt' },
    ],
    storage: {
      dataDir: './data',
      commitIntervalMs: 5,
      commitMaxBytes: 1024 * 1024,
      commitMaxPerSecond: 2000,
      commitMinBatchBytes: 16 * 1024,
      inlineMaxBytes: 2048,
      mapSizeBytes: 1024 * 1024 * 1024,
      minFreeDiskBytes: 8 * 1024 * 1024,
      maxPendingBytes: 8 * 1024 * 1024,
      payloadStore: 'auto',
      payloadSegmentBytes: 16 * 1024 * 1024,
      commitLog: true,
    },
    mqtt: { ...DEFAULT_MQTT_LIMITS },
    log: { level: 'info' },
    queues: { autoCreate: true, defaults: { ...DEFAULT_QUEUE_SETTINGS }, definitions: [], dollarQueue: 'named' },
    admin: { enabled: true, listen: DEFAULT_ADMIN_LISTEN, token: undefined },
    sys: { intervalMs: 10_000 },
    metrics: { enabled: true },
    buses: [],
    devices: [],
    auth: { allowAnonymous: undefined, passwordFile: undefined, aclFile: undefined },
    bridges: [],
  };
}
