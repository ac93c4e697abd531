// A short run of the fuzzer (scripts/fuzz/): 20,000 malformed or mutated packets of every category over many
// connections against an in-process broker, while a well-behaved client keeps exchanging QoS 1 messages.
// The broker must close or keep each connection as the protocol says, log no handler failure, release every
// connection and keep serving. (The full run of >= 1,000,000 packets is `node dist/scripts/fuzz/mqtt-fuzz.js`.)

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runFuzz } from '../../scripts/fuzz/fuzz-run.js';
import { CATEGORIES } from '../../scripts/fuzz/packets.js';
import { startBroker } from '../helpers/broker.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { waitFor } from '../helpers/tools.js';
import type { Logger } from '../../src/log/logger.js';

const test = suite('auth: fuzz smoke run');

test('20,000 fuzz packets of every category: no handler failure, no hung connection, every connection released, the well-behaved client gets every message', async () => {
  const errors: string[] = [];
  const tb = await startBroker();
  // Handler failures are logged at error level: collect them (the test broker's shared logger is silent; the
  // method is put back at the end).
  const log = tb.broker.log as Logger;
  const original = log.error;
  (log as { error: Logger['error'] }).error = (event, fields) => {
    errors.push(`${event} ${JSON.stringify(fields)}`);
    original.call(log, event, fields);
  };
  const canary = await connectClient(tb.url, { clientId: 'canary' });
  try {
    const inbox = collect(canary);
    await canary.subscribeAsync('canary/#', { qos: 1 });
    const fuzzing = runFuzz({ port: tb.port, packets: 20_000, concurrency: 32, deadline: Date.now() + 60_000, seed: 0xf22, maxRun: 40, quietMs: 100 });
    let sent = 0;
    let done = false;
    fuzzing.then(() => (done = true), () => (done = true));
    while (!done) {
      await canary.publishAsync('canary/t', String(++sent), { qos: 1 });
      await new Promise((r) => setTimeout(r, 10));
    }
    const report = await fuzzing;
    await inbox.waitCount(sent, 10_000);
    assert.ok(report.packets >= 20_000, `only ${report.packets} packets before the deadline`);
    for (const c of CATEGORIES) assert.ok(report.byCategory[c] > 0, `category ${c} ran`);
    assert.is(report.hung, 0);
    assert.is(report.connectErrors, 0);
    assert.is(report.unparsableReplies, 0);
    // Protocol errors on 5.0 are closed with a reason code: at least some DISCONNECT 0x81/0x82 were seen.
    assert.ok(Object.keys(report.closes).some((k) => /^disconnect 0x8[12]$/.test(k)), JSON.stringify(report.closes));
    assert.equal(errors, []);
    await waitFor(() => tb.broker.connections.size === 1, 5000, 'fuzz connections to be released');
    assert.is(tb.broker.pendingConnections.size, 0);
    assert.ok(canary.connected);
  } finally {
    (log as { error: Logger['error'] }).error = original;
    await endClient(canary, true);
    await tb.stop();
  }
});

test.run();
