// Modbus TCP transport against the pymodbus simulator on a loopback port: values, transaction ids over the
// full 16 bits, an answer with a wrong transaction id dropped and counted, reconnect after the device returns.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Socket } from 'node:net';
import { decodeReadResponse, encodeRequest, type ReadRequest } from '../../../src/devices/modbus/pdu.js';
import { ModbusTcpTransport } from '../../../src/devices/transport/modbus-tcp.js';
import { ModbusSim, requireModbusSim } from '../../helpers/modbus-sim.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('devices/transport: modbus tcp');
const it = requireModbusSim(test, 'tcp');
let sim: ModbusSim;

test.before(async () => {
  if (it.available) sim = await ModbusSim.start({ units: [1, 2] });
});
test.after(async () => {
  await sim?.close();
});

async function readVia(t: ModbusTcpTransport, req: ReadRequest, timeoutMs = 1000) {
  const ex = await t.exchange(req.unitId, encodeRequest(req), timeoutMs);
  return ex.kind === 'pdu' ? decodeReadResponse(req, ex.pdu) : ex;
}

async function connected(options: Partial<ConstructorParameters<typeof ModbusTcpTransport>[0]> = {}): Promise<ModbusTcpTransport> {
  const t = new ModbusTcpTransport({ host: '127.0.0.1', port: sim.port, reopenMinMs: 50, reopenMaxMs: 200, ...options });
  t.open();
  await waitFor(() => t.state === 'open', 5000, 'tcp connect');
  return t;
}

it('reads the values the simulator holds, per unit id', async () => {
  await sim.set(1, 'hr', 10, [0x1234, 0xabcd, 7]);
  await sim.set(2, 'hr', 10, [1, 2, 3]);
  await sim.set(1, 'co', 3, [1, 0, 1]);
  const t = await connected();
  try {
    const a = await readVia(t, { unitId: 1, table: 'holding_register', address: 10, quantity: 3 });
    assert.ok(a.kind === 'ok' && 'registers' in a, JSON.stringify(a));
    assert.equal([...a.registers], [0x1234, 0xabcd, 7]);
    const b = await readVia(t, { unitId: 2, table: 'holding_register', address: 10, quantity: 3 });
    assert.ok(b.kind === 'ok' && 'registers' in b);
    assert.equal([...b.registers], [1, 2, 3]);
    const c = await readVia(t, { unitId: 1, table: 'coil', address: 3, quantity: 3 });
    assert.ok(c.kind === 'ok' && 'bits' in c);
    assert.equal([...c.bits], [1, 0, 1]);
    // Beyond the simulator's 1000 registers: exception 0x02, an answer and not a failure of the transport.
    assert.equal(await readVia(t, { unitId: 1, table: 'holding_register', address: 999, quantity: 2 }), { kind: 'exception', code: 2 });
  } finally {
    await t.close();
  }
});

it('transaction ids cross 0xFFFF -> 0 and every answer still matches its request', async () => {
  await sim.set(1, 'ir', 0, [11, 22, 33, 44, 55, 66]);
  const t = await connected({ firstTransactionId: 0xfffd });
  try {
    for (let i = 0; i < 6; i++) {
      const r = await readVia(t, { unitId: 1, table: 'input_register', address: i, quantity: 1 });
      assert.ok(r.kind === 'ok' && 'registers' in r, `request ${i}: ${JSON.stringify(r)}`);
      assert.is(r.registers[0], 11 * (i + 1));
      assert.is(t.upcomingTransactionId, (0xfffd + i + 1) & 0xffff, 'all 16 bits count');
    }
    assert.is(t.counters.badFrames, 0);
  } finally {
    await t.close();
  }
});

it('an answer with a wrong transaction id is dropped and counted, never taken as the value', async () => {
  await sim.set(1, 'hr', 0, [42]);
  const t = await connected();
  try {
    await sim.corrupt(1, 1);
    const bad = await readVia(t, { unitId: 1, table: 'holding_register', address: 0, quantity: 1 }, 300);
    assert.equal(bad, { kind: 'bad_frame', reason: 'transaction_id' });
    assert.is(t.counters.badFrames, 1);
    assert.is(t.counters.timeouts, 1);
    const good = await readVia(t, { unitId: 1, table: 'holding_register', address: 0, quantity: 1 });
    assert.ok(good.kind === 'ok' && 'registers' in good && good.registers[0] === 42, JSON.stringify(good));
  } finally {
    await t.close();
  }
});

it('a unit that never answers times out; the connection stays usable', async () => {
  const t = await connected();
  try {
    await sim.mute(2, true);
    assert.equal(await readVia(t, { unitId: 2, table: 'holding_register', address: 0, quantity: 1 }, 200), { kind: 'timeout' });
    await sim.mute(2, false);
    const r = await readVia(t, { unitId: 2, table: 'holding_register', address: 10, quantity: 1 });
    assert.ok(r.kind === 'ok', JSON.stringify(r));
  } finally {
    await t.close();
  }
});

it('the device disappears: unavailable at once; it returns: the transport reconnects by itself', async () => {
  const t = await connected();
  try {
    await sim.stop();
    await waitFor(() => t.state !== 'open', 5000, 'connection loss seen');
    const down = await readVia(t, { unitId: 1, table: 'holding_register', address: 0, quantity: 1 });
    assert.is(down.kind, 'unavailable');
    await sim.start();
    await waitFor(() => t.state === 'open', 5000, 'reconnect');
    assert.ok(t.counters.reopens >= 1);
    const up = await readVia(t, { unitId: 1, table: 'holding_register', address: 0, quantity: 1 });
    assert.is(up.kind, 'ok', JSON.stringify(up));
  } finally {
    await t.close();
  }
});

// Every connection reads into one buffer shared by the process (tcp-connection.ts): replies that come a byte per
// segment on two connections at once overwrite that buffer between each other's pieces, so each transport must
// have copied what it keeps of a partial frame.
test('replies in one-byte segments on two connections at once each reach their own request', async () => {
  const sockets: Socket[] = [];
  const server = createServer((sock) => {
    sockets.push(sock);
    sock.setNoDelay(true);
    sock.on('data', async (req) => {
      const unit = req[6]!;
      // MBAP (transaction id echoed, protocol 0, length 7, unit) + FC 3, 4 bytes, two registers that name the unit.
      const reply = Buffer.from([req[0]!, req[1]!, 0, 0, 0, 7, unit, 0x03, 0x04, unit, unit, 0xa0 + unit, unit]);
      for (const byte of reply) {
        if (sock.destroyed) return;
        sock.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 3));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const transports = [1, 2].map(() => new ModbusTcpTransport({ host: '127.0.0.1', port }));
  try {
    for (const t of transports) t.open();
    await waitFor(() => transports.every((t) => t.state === 'open'), 5000, 'both connected');
    for (let round = 0; round < 3; round++) {
      const got = await Promise.all(transports.map((t, i) => readVia(t, { unitId: 5 + i, table: 'holding_register', address: 0, quantity: 2 }, 2000)));
      got.forEach((r, i) => {
        const unit = 5 + i;
        assert.ok(r.kind === 'ok' && 'registers' in r, `round ${round}, unit ${unit}: ${JSON.stringify(r)}`);
        assert.equal([...r.registers], [unit * 0x101, ((0xa0 + unit) << 8) | unit], `round ${round}, unit ${unit}`);
      });
    }
    for (const t of transports) assert.is(t.counters.badFrames, 0);
  } finally {
    for (const t of transports) await t.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
});

// A device whose connection slots are all taken accepts and closes at once: the reopen must back off, not retry
// every reopenMinMs forever (the backoff restarts only once the device has answered on a connection).
test('a peer that accepts and closes at once is retried with growing delays', async () => {
  let accepted = 0;
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    accepted++;
    sockets.push(s);
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const t = new ModbusTcpTransport({ host: '127.0.0.1', port, reopenMinMs: 20, reopenMaxMs: 10_000 });
  try {
    t.open();
    await new Promise((r) => setTimeout(r, 1500));
    // 20, 40, 80, ... ms between attempts: about 7 in 1.5 s; without the backoff about 1500 / 20 = 75.
    assert.ok(accepted >= 2, `reconnects at all: ${accepted}`);
    assert.ok(accepted <= 12, `attempts in 1.5 s: ${accepted}`);
  } finally {
    await t.close();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test.run();
