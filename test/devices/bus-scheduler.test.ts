// The bus scheduler over real transports and the pymodbus simulator: a dead unit on the same RTU line does not
// stall a live one, bad CRCs are counted and never data, writes jump the queue of polls, offline and online.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BusScheduler, type DeviceLink, type LinkState } from '../../src/devices/bus-scheduler.js';
import { ModbusTcpTransport } from '../../src/devices/transport/modbus-tcp.js';
import { RtuSerialTransport } from '../../src/devices/transport/rtu-serial.js';
import { silentIntervalMs } from '../../src/devices/transport/serial-timing.js';
import type { Exchange, ModbusTransport } from '../../src/devices/transport/transport.js';
import { ModbusSim, PtyPair, requireModbusSim } from '../helpers/modbus-sim.js';
import { waitFor } from '../helpers/tools.js';

const test = suite('devices: bus scheduler');
const rtu = requireModbusSim(test, 'rtu');
const tcp = requireModbusSim(test, 'tcp');

interface Logged {
  unitId: number;
  fc: number;
  startMs: number;
  endMs: number;
}

/** A real transport with a log of what went on the wire, in order (a decorator, not a stand-in). */
class Recording implements ModbusTransport {
  readonly log: Logged[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(readonly inner: ModbusTransport) {}
  get kind() {
    return this.inner.kind;
  }
  get state() {
    return this.inner.state;
  }
  get lastError() {
    return this.inner.lastError;
  }
  get counters() {
    return this.inner.counters;
  }
  open(): void {
    this.inner.open();
  }
  async exchange(unitId: number, pdu: Buffer, timeoutMs: number): Promise<Exchange> {
    const startMs = performance.now();
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      return await this.inner.exchange(unitId, pdu, timeoutMs);
    } finally {
      this.inFlight--;
      this.log.push({ unitId, fc: pdu[0]!, startMs, endMs: performance.now() });
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test('silent interval: 3.5 characters from the baud rate and format; 1.75 ms above 19200 baud; overridable', () => {
  assert.ok(Math.abs(silentIntervalMs({ baudRate: 9600, parity: 'even' }) - (3.5 * 11 * 1000) / 9600) < 1e-9);
  assert.ok(Math.abs(silentIntervalMs({ baudRate: 9600 }) - (3.5 * 10 * 1000) / 9600) < 1e-9);
  assert.ok(Math.abs(silentIntervalMs({ baudRate: 19200, parity: 'none', stopBits: 2 }) - (3.5 * 11 * 1000) / 19200) < 1e-9);
  assert.is(silentIntervalMs({ baudRate: 38400 }), 1.75);
  assert.is(silentIntervalMs({ baudRate: 115200, parity: 'even' }), 1.75);
  assert.is(silentIntervalMs({ baudRate: 9600 }, 12), 12);
});

async function rtuBus(units: number[], options: { silentIntervalMs?: number; backoffMinMs?: number } = {}) {
  const pty = await PtyPair.open();
  const sim = await ModbusSim.start({ units, serial: pty.b, baudRate: 19200 });
  const transport = new Recording(new RtuSerialTransport({ path: pty.a, baudRate: 19200, reopenMinMs: 50 }));
  transport.open();
  await waitFor(() => transport.state === 'open', 5000, 'serial port open');
  const bus = new BusScheduler(transport, { silentIntervalMs: options.silentIntervalMs ?? silentIntervalMs({ baudRate: 19200 }), backoffMinMs: options.backoffMinMs ?? 60000 });
  return {
    pty,
    sim,
    transport,
    bus,
    async close() {
      await bus.close();
      await sim.close();
      await pty.close();
    },
  };
}

function watchStates(link: DeviceLink): LinkState[] {
  const states: LinkState[] = [];
  link.onStateChange = (s) => states.push(s);
  return states;
}

rtu('a second unit id on the same RTU line that never answers does not stall the first', async () => {
  const line = await rtuBus([1, 2]);
  try {
    await line.sim.set(1, 'hr', 0, [7, 8, 9]);
    await line.sim.mute(2, true);
    const live = line.bus.addDevice({ name: 'live', unitId: 1, timeoutMs: 2000, retries: 2 });
    const dead = line.bus.addDevice({ name: 'dead', unitId: 2, timeoutMs: 300, retries: 2 });
    const deadStates = watchStates(dead);
    const rounds = 8;
    const results = [];
    for (let round = 0; round < rounds; round++) {
      // Each round, both devices poll three reads at once, as a poller does.
      const reads = [0, 1, 2].flatMap((a) => [live.read({ table: 'holding_register', address: a, quantity: 1 }), dead.read({ table: 'holding_register', address: a, quantity: 1 })]);
      results.push(await Promise.all(reads));
    }
    const liveValues = results.map((r) => r.filter((_, i) => i % 2 === 0).map((x) => (x.kind === 'ok' && 'registers' in x ? x.registers[0] : x.kind)));
    assert.equal(liveValues, new Array(rounds).fill([7, 8, 9]));
    assert.is(live.state, 'online');
    assert.is(dead.state, 'offline');
    assert.equal(deadStates, ['offline']);
    assert.ok(results.every((r) => r.filter((_, i) => i % 2 === 1).every((x) => x.kind !== 'ok')));
    // On the wire: the dead unit got its first attempt and two retries, then backs off (60 s) and costs nothing.
    assert.is(await line.sim.requestCount(2), 3);
    assert.is(dead.counters.timeouts, 3);
    assert.is(dead.counters.skipped, 3 * rounds - 1);
    // Turns alternate: never two exchanges with the dead unit while the live one had a read waiting.
    const units = line.transport.log.map((l) => l.unitId);
    for (let i = 1; i < units.length; i++) assert.ok(!(units[i] === 2 && units[i - 1] === 2), `two dead-unit exchanges in a row at ${i}: ${units.join('')}`);
    assert.is(line.transport.maxInFlight, 1);
  } finally {
    await line.close();
  }
});

rtu('offline after its retries, online again when it answers (after the backoff)', async () => {
  const line = await rtuBus([1], { backoffMinMs: 200 });
  try {
    const dev = line.bus.addDevice({ name: 'meter', unitId: 1, timeoutMs: 100, retries: 1 });
    const states = watchStates(dev);
    await line.sim.mute(1, true);
    assert.is((await dev.read({ table: 'input_register', address: 0, quantity: 2 })).kind, 'timeout');
    assert.is(dev.state, 'offline');
    assert.is(dev.lastError, 'timeout');
    await line.sim.mute(1, false);
    // Polled the way a poller does, every 50 ms, until the backoff lets a probe through and it is answered.
    for (let i = 0; i < 100 && dev.state !== 'online'; i++) {
      await dev.read({ table: 'input_register', address: 0, quantity: 2 });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.is(dev.state, 'online');
    assert.equal(states.slice(0, 2), ['offline', 'online']);
    assert.ok(dev.counters.responses >= 1);
  } finally {
    await line.close();
  }
});

rtu('a bad CRC injected through the pty is counted and not returned as data; a retry reads the value', async () => {
  const line = await rtuBus([1]);
  try {
    await line.sim.set(1, 'hr', 20, [4242]);
    const once = line.bus.addDevice({ name: 'no-retry', unitId: 1, timeoutMs: 300, retries: 0 });
    await line.sim.corrupt(1, 1);
    assert.equal(await once.read({ table: 'holding_register', address: 20, quantity: 1 }), { kind: 'bad_frame', reason: 'crc' });
    assert.is(once.counters.crcErrors, 1);
    const retrying = line.bus.addDevice({ name: 'retry', unitId: 1, timeoutMs: 300, retries: 1 });
    await line.sim.corrupt(1, 1);
    const r = await retrying.read({ table: 'holding_register', address: 20, quantity: 1 });
    assert.ok(r.kind === 'ok' && 'registers' in r && r.registers[0] === 4242, JSON.stringify(r));
    assert.is(retrying.counters.crcErrors, 1);
    assert.is(line.transport.counters.crcErrors, 2);
  } finally {
    await line.close();
  }
});

rtu('writes go before the polls that are not yet on the wire; the silent interval separates frames', async () => {
  const gapMs = 15;
  const line = await rtuBus([1], { silentIntervalMs: gapMs });
  try {
    const dev = line.bus.addDevice({ name: 'pump', unitId: 1, timeoutMs: 500, retries: 0 });
    const polls = [0, 1, 2, 3].map((a) => dev.read({ table: 'holding_register', address: a, quantity: 1 }));
    const write = dev.write({ table: 'holding_register', address: 3, values: [60] });
    const coil = dev.write({ table: 'coil', address: 1, values: [1] });
    const results = await Promise.all([...polls, write, coil]);
    assert.equal(results[4], { kind: 'ok', written: 1 });
    assert.equal(results[5], { kind: 'ok', written: 1 });
    // The first poll was already on the wire; both writes come next, then the other polls (which see the 60).
    assert.equal(line.transport.log.map((l) => l.fc), [3, 6, 5, 3, 3, 3]);
    const last = results[3]!;
    assert.ok(last.kind === 'ok' && 'registers' in last && last.registers[0] === 60);
    assert.equal(await line.sim.writes(), [
      [1, 6, 3, [60]],
      [1, 5, 1, [1]],
    ]);
    const log = line.transport.log;
    for (let i = 1; i < log.length; i++) assert.ok(log[i]!.startMs - log[i - 1]!.endMs >= gapMs - 0.5, `gap ${i}: ${log[i]!.startMs - log[i - 1]!.endMs} ms`);
  } finally {
    await line.close();
  }
});

tcp('Modbus TCP: the device disappears (offline, fast failures) and returns (online) through reconnects', async () => {
  const sim = await ModbusSim.start({ units: [1] });
  const transport = new ModbusTcpTransport({ host: '127.0.0.1', port: sim.port, reopenMinMs: 50, reopenMaxMs: 100 });
  transport.open();
  const bus = new BusScheduler(transport, { silentIntervalMs: 0, backoffMinMs: 100 });
  try {
    await waitFor(() => transport.state === 'open', 5000, 'connect');
    const dev = bus.addDevice({ name: 'plc', unitId: 1, timeoutMs: 300, retries: 1 });
    const states = watchStates(dev);
    await sim.set(1, 'hr', 0, [5]);
    assert.is((await dev.read({ table: 'holding_register', address: 0, quantity: 1 })).kind, 'ok');
    await sim.stop();
    await waitFor(() => transport.state !== 'open', 5000, 'loss seen');
    const down = await dev.read({ table: 'holding_register', address: 0, quantity: 1 });
    assert.is(down.kind, 'unavailable');
    assert.is(dev.state, 'offline');
    await sim.start();
    await waitFor(() => transport.state === 'open', 5000, 'reconnected');
    const up = await dev.read({ table: 'holding_register', address: 0, quantity: 1 });
    assert.ok(up.kind === 'ok' && 'registers' in up && up.registers[0] === 5, JSON.stringify(up));
    assert.equal(states, ['online', 'offline', 'online']);
  } finally {
    await bus.close();
    await sim.close();
  }
});

test.run();
