// Closed connections leave nothing behind (issue 13): after clean-session clients, malformed packets and aborted
// CONNECTs, the broker holds no connection, session or topic-trie entry of theirs, and once garbage collection ran the
// Connection objects themselves are gone: no timer, listener or table still points at them. Object counts, not RSS.

import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generate } from 'mqtt-packet';
import type { Connection } from '../../src/broker/connection.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';

const test = suite('closed connections leave no objects behind');

const CLIENTS = 60;
const WAIT_MS = 10_000;

// A full collection on demand, without starting the test process with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The Connection objects the broker creates from now on (WeakRefs: watching must not keep them alive). */
function watchConnections(b: TestBroker): WeakRef<Connection>[] {
  const refs: WeakRef<Connection>[] = [];
  const set = b.broker.connections;
  const add = set.add.bind(set);
  set.add = (c: Connection) => {
    refs.push(new WeakRef(c));
    return add(c);
  };
  return refs;
}

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes `bytes` on a new socket and ends it as `end` says; resolves when the socket has closed. */
function shortConnection(port: number, bytes: Buffer, end: 'wait' | 'reset' | 'half'): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => resolve());
    s.on('connect', () => {
      if (bytes.length > 0) s.write(bytes);
      if (end === 'reset') s.resetAndDestroy();
      else if (end === 'half') s.end();
      // 'wait': the broker closes it
    });
  });
}

const connect = (clientId: string) => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30 });

/** Each kind of short connection, `CLIENTS` times: clean sessions that subscribe and leave, and hostile ones. */
async function openAndCloseAll(port: number): Promise<void> {
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const subscribe = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `leak/${i}`, qos: 1 }] });
    // a clean session with a subscription, leaving with DISCONNECT
    jobs.push(shortConnection(port, Buffer.concat([connect(`leak-${i}`), subscribe, generate({ cmd: 'disconnect' })]), 'wait'));
    // malformed packets: a reserved packet type, a bad protocol name, a 5-byte Remaining Length
    jobs.push(shortConnection(port, Buffer.from([0x00, 0x00, 0x00, 0x00]), 'wait'));
    const bad = connect(`bad-${i}`);
    bad.write('MQTX', 4, 'latin1');
    jobs.push(shortConnection(port, bad, 'wait'));
    jobs.push(shortConnection(port, Buffer.concat([connect(`utf-${i}`), Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01])]), 'wait'));
    // aborted CONNECTs: half a packet then a reset or a FIN, and a connection reset at once
    const c = connect(`half-${i}`);
    jobs.push(shortConnection(port, c.subarray(0, c.length >> 1), 'reset'));
    jobs.push(shortConnection(port, c.subarray(0, c.length - 1), 'half'));
    jobs.push(shortConnection(port, Buffer.alloc(0), 'reset'));
  }
  await Promise.all(jobs);
}

test('connections, sessions and subscriptions of closed clients are gone, and so are their objects', async () => {
  const b = await startBroker();
  try {
    const refs = watchConnections(b);
    await openAndCloseAll(b.port);
    assert.is(refs.length, CLIENTS * 7, 'one Connection per socket');
    await until('the broker to drop every connection', () => b.broker.connections.size === 0);
    assert.is(b.broker.sessions.byClientId.size, 0, 'clean sessions end with their connection');
    assert.is(b.broker.trie.size, 0, 'their subscriptions leave the topic trie');
    // Let the close events finish (the 'close' listeners run after the broker's own), then collect twice:
    // V8 may need a second full GC for objects only reachable from weak cells.
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setTimeout(r, 50));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    assert.is(alive, 0, `${alive} of ${refs.length} closed Connection objects are still reachable`);
  } finally {
    await b.stop();
  }
});

test.run();
