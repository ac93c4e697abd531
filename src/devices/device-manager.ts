// Field devices of the configuration, run beside the broker: one transport and bus scheduler per bus, one poller
// per Modbus device, one reader per line device. A bus that cannot open (port missing, permission denied,
// connection refused) is logged once and retried by its transport; the broker and the other buses keep running.

import type { Broker } from '../broker/broker.js';
import { LocalPublisher } from '../broker/local-publisher.js';
import type { BusConfig, LineDeviceConfig, ModbusDeviceConfig, WharfConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { BusScheduler, type DeviceLink } from './bus-scheduler.js';
import { DeviceCommands } from './commands/command-queue.js';
import { startLineCommands, type LineCommandConsumer } from './command-line.js';
import { LineDevice } from './line-device.js';
import { Poller, type DeviceHealth } from './poller.js';
import { ReadPlan } from './read-plan.js';
import { StateDocumentBuilder } from './state-document.js';
import type { BusStatus, DeviceStatus, DeviceStatusSource } from './status.js';
import { transportFor } from './transport/factory.js';
import type { ReopenOptions } from './transport/transport.js';

export interface DeviceManagerOptions extends ReopenOptions {
  /** Backoff of an offline device (bus scheduler). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
}

/** How often bus states are looked at for the one-line log of a failure and of its recovery. */
const WATCH_INTERVAL_MS = 500;
/** Bus utilisation is the busy share of this last stretch of time. */
const UTILISATION_WINDOW_MS = 10_000;

interface BusRuntime {
  config: BusConfig;
  scheduler: BusScheduler;
  loggedError: string | undefined;
  samples: { atMs: number; busyMs: number }[];
}

interface ModbusRuntime {
  config: ModbusDeviceConfig;
  link: DeviceLink;
  poller: Poller<ReturnType<ReadPlan['reads']>[number]>;
  plan: ReadPlan;
  builder: StateDocumentBuilder;
  health: DeviceHealth;
  lastError: string | undefined;
  publisher: LocalPublisher;
  /** Devices with writable points (issue 15): their command queue and its consumer. */
  commands: DeviceCommands | undefined;
}

export class DeviceManager implements DeviceStatusSource {
  private readonly busRuntimes = new Map<string, BusRuntime>();
  private readonly modbus: ModbusRuntime[] = [];
  private readonly lines: LineDevice[] = [];
  private readonly lineCommands: LineCommandConsumer[] = [];
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly config: WharfConfig,
    private readonly broker: Broker,
    private readonly log: Logger,
    private readonly options: DeviceManagerOptions = {},
  ) {}

  start(): void {
    const busByName = new Map(this.config.buses.map((b) => [b.name, b]));
    for (const device of this.config.devices) {
      const bus = busByName.get(device.bus);
      if (!bus) continue; // validation refuses this; nothing to run
      if (device.type === 'line') this.startLine(device, bus);
      else this.startModbus(device, bus);
    }
    for (const rt of this.busRuntimes.values()) rt.scheduler.transport.open();
    for (const rt of this.modbus) rt.poller.start();
    if (this.busRuntimes.size > 0 || this.lines.length > 0) {
      this.watchTimer = setInterval(() => this.watch(), WATCH_INTERVAL_MS);
      this.watchTimer.unref();
      this.log.info('devices started', { buses: this.busRuntimes.size, modbus: this.modbus.length, line: this.lines.length });
    }
  }

  private busRuntime(bus: BusConfig): BusRuntime {
    let rt = this.busRuntimes.get(bus.name);
    if (!rt) {
      const { transport, silentIntervalMs } = transportFor(bus, this.options);
      if (bus.type === 'serial' && bus.rs485 !== undefined) {
        // @serialport/bindings-cpp 13 has no RS-485 (TIOCSRS485) setting: say so once rather than pretend.
        this.log.warn('bus rs485 settings are not applied by this serialport binding; use a transceiver with automatic direction control or set the mode outside Wharf', { bus: bus.name });
      }
      const scheduler = new BusScheduler(transport, { silentIntervalMs, backoffMinMs: this.options.backoffMinMs, backoffMaxMs: this.options.backoffMaxMs });
      rt = { config: bus, scheduler, loggedError: undefined, samples: [] };
      this.busRuntimes.set(bus.name, rt);
    }
    return rt;
  }

  private startModbus(device: ModbusDeviceConfig, bus: BusConfig): void {
    const { scheduler } = this.busRuntime(bus);
    const link = scheduler.addDevice({ name: device.name, unitId: device.unitId, timeoutMs: device.timeoutMs, retries: device.retries });
    const plan = new ReadPlan(device.points, { maxRegistersPerRead: device.maxRegistersPerRead, maxBitsPerRead: device.maxBitsPerRead });
    const builder = new StateDocumentBuilder(device.points, { publish: device.publish, heartbeatMs: device.heartbeatMs });
    const publisher = new LocalPublisher(this.broker, `device:${device.name}`);
    // The poller's callbacks update this record; it is complete before the poller starts.
    const rt = { config: device, link, plan, builder, health: 'starting', lastError: undefined, publisher, commands: undefined } as ModbusRuntime;
    // Commands need the durable queues (an in-memory broker has none): declared before the bus opens.
    const queues = this.broker.queues;
    if (queues !== null && DeviceCommands.wanted(device)) {
      rt.commands = new DeviceCommands(device, link, queues, publisher, this.log);
      rt.commands.start();
    }
    rt.poller = new Poller(device, link, plan, builder, publisher, {
      onCycle: (health, error) => {
        if (error !== undefined) rt.lastError = error;
        if (health !== rt.health) {
          this.log[health === 'online' ? 'info' : 'warn']('device state', { device: device.name, state: health, error });
          rt.health = health;
          this.publishStatus(publisher, device, health, error);
        }
      },
      onDropped: (reason) => this.log.debug('reading dropped', { device: device.name, reason }),
    });
    this.modbus.push(rt);
  }

  private startLine(device: LineDeviceConfig, bus: BusConfig): void {
    if (bus.type !== 'serial') return; // validation refuses this
    const publisher = new LocalPublisher(this.broker, `device:${device.name}`);
    let commands: LineCommandConsumer | undefined;
    const queues = this.broker.queues;
    const line = new LineDevice(device, bus, publisher, this.log, {
      onState: (state, error) => {
        this.publishStatus(publisher, device, state, error);
        // The port is open again: lines waiting in the send queue go out.
        if (state === 'online' && commands !== undefined) queues?.ownerHasRoom(commands.owner);
      },
    }, this.options);
    if (queues !== null) {
      commands = startLineCommands(queues, device, line, this.log);
      this.lineCommands.push(commands);
    }
    this.lines.push(line);
    line.start();
  }

  /** The retained status document: online / offline / degraded with the last error (issue 14, Publishing). */
  private publishStatus(publisher: LocalPublisher, device: { name: string; statusTopic: string }, state: DeviceHealth, error: string | undefined): void {
    const topic = device.statusTopic.replaceAll('{device}', device.name);
    const doc = { state, ...(error !== undefined && state !== 'online' ? { lastError: error } : {}), at: new Date().toISOString() };
    void publisher.publish(topic, Buffer.from(JSON.stringify(doc)), { qos: 1, retain: true });
  }

  private watch(): void {
    const now = performance.now();
    for (const rt of this.busRuntimes.values()) {
      const t = rt.scheduler.transport;
      if (t.state === 'error' && t.lastError !== undefined && rt.loggedError === undefined) {
        rt.loggedError = t.lastError;
        this.log.error('bus unavailable, retrying', { bus: rt.config.name, error: t.lastError });
      } else if (t.state === 'open' && rt.loggedError !== undefined) {
        rt.loggedError = undefined;
        this.log.info('bus open again', { bus: rt.config.name });
      }
      rt.samples.push({ atMs: now, busyMs: rt.scheduler.busyMs });
      while (rt.samples.length > 2 && now - rt.samples[0]!.atMs > UTILISATION_WINDOW_MS) rt.samples.shift();
    }
  }

  devices(): DeviceStatus[] {
    const out: DeviceStatus[] = [];
    for (const rt of this.modbus) {
      const c = rt.link.counters;
      out.push({
        name: rt.config.name,
        bus: rt.config.bus,
        kind: 'modbus',
        // Readings the store does not take make an answering device degraded (issue 14, Backpressure).
        state: rt.health === 'online' && rt.poller.lastDropped !== undefined ? 'degraded' : rt.health,
        lastError: rt.health !== 'online' ? rt.lastError : rt.poller.lastDropped !== undefined ? `reading dropped: ${rt.poller.lastDropped}` : undefined,
        lastSeenMs: rt.link.lastSeenMs,
        counters: {
          requests: c.requests,
          responses: c.responses,
          timeouts: c.timeouts,
          crcErrors: c.crcErrors,
          badFrames: c.badFrames,
          exceptions: { ...c.exceptions },
          readingsPublished: rt.poller.counters.readingsPublished,
          readingsDropped: rt.poller.counters.readingsDropped,
        },
        ...(rt.commands !== undefined ? { commands: rt.commands.counts() } : {}),
        rttMs: rt.link.rttMs.samples === 0 ? undefined : { last: rt.link.rttMs.last, avg: rt.link.rttMs.avg, max: rt.link.rttMs.max },
        points: rt.builder.snapshot(),
      });
    }
    for (const line of this.lines) out.push(line.status());
    return out;
  }

  /** The command side of each device that takes commands (tests, status). */
  commands(device: string): DeviceCommands | undefined {
    return this.modbus.find((rt) => rt.config.name === device)?.commands;
  }

  buses(): BusStatus[] {
    const out: BusStatus[] = [];
    for (const rt of this.busRuntimes.values()) {
      const t = rt.scheduler.transport;
      const first = rt.samples[0];
      const last = rt.samples[rt.samples.length - 1];
      const span = first && last ? last.atMs - first.atMs : 0;
      out.push({
        name: rt.config.name,
        type: rt.config.type,
        state: t.state,
        lastError: t.state === 'open' ? undefined : t.lastError,
        counters: { requests: rt.scheduler.requests, timeouts: t.counters.timeouts, crcErrors: t.counters.crcErrors, busyMs: rt.scheduler.busyMs },
        utilisation: span > 0 ? Math.min(1, (last!.busyMs - first!.busyMs) / span) : 0,
      });
    }
    for (const line of this.lines) out.push(line.busStatus());
    return out;
  }

  /** Stops polling and closes every bus; status topics say offline (the broker must still be running). */
  async stop(): Promise<void> {
    clearInterval(this.watchTimer);
    await Promise.all(this.modbus.map((rt) => rt.commands?.stop()));
    await Promise.all(this.lineCommands.map((c) => c.stop()));
    await Promise.all(this.modbus.map((rt) => rt.poller.stop()));
    await Promise.all([...this.busRuntimes.values()].map((rt) => rt.scheduler.close()));
    await Promise.all(this.lines.map((l) => l.stop()));
    const stopped = this.modbus.filter((rt) => rt.health !== 'starting');
    await Promise.all(
      stopped.map((rt) => {
        const topic = rt.config.statusTopic.replaceAll('{device}', rt.config.name);
        return rt.publisher.publish(topic, Buffer.from(JSON.stringify({ state: 'offline', lastError: 'wharf stopped', at: new Date().toISOString() })), { qos: 1, retain: true });
      }),
    );
  }
}
