// End to end, README "Backpressure": while more than `storage.maxPendingBytes` wait for their commit, publishing
// sockets are not read until the store catches up. A `wharf` process with maxPendingBytes 64KiB and a queue on
// flood/#; another process holds the LMDB write lock, so no commit can finish, and a publisher writes 2 MiB.
// The broker must stop reading the publisher's socket: what it read stays near the limit (a live subscriber and
// /metrics see it), the unread bytes wait in the kernel (Linux /proc/net/tcp shows them), and nothing more is
// read while the event loop turns (two PINGREQ round trips of the subscriber are the end markers). Once the lock
// is released every message is read, stored and, at QoS 1, acknowledged with success: nothing is lost.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import mqtt from 'mqtt-packet';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { decodeSeqPayload, seqPayload } from '../helpers/lean-publisher.js';
import { holdLmdbWriteLock, type WriteLock } from '../helpers/lmdb-write-lock.js';
import { RawClient } from '../helpers/raw-client.js';

const test = suite('e2e backpressure: storage.maxPendingBytes pauses publishers until commits catch up');

const MAX_PENDING = 64 * 1024;
const PAYLOAD_BYTES = 1024;
const MESSAGES = 2000;
/** The publish that crosses the limit pauses the socket; the rest of that read (at most 64 KiB) is still handled. */
const PENDING_BOUND = MAX_PENDING + 2 * 64 * 1024;
/**
 * Unread bytes in the broker's socket, more than a few whole packets, that show it may have stopped reading. The
 * kernel's receive window for a socket that was read little stays small (about 60 KiB): the rest of the 2 MiB
 * waits in the publisher's send queue.
 */
const STALLED_UNREAD = 16 * 1024;
const WAIT_MS = 10_000;

// /proc/net/tcp is how the test sees bytes the broker has not read; without it (not Linux) the test is skipped.
const haveProcNet = existsSync('/proc/net/tcp');
if (!haveProcNet) {
  if (process.env.CI === 'true') throw new Error('/proc/net/tcp is missing (CI=true: a missing tool fails)');
  process.stderr.write('\n!!! SKIPPING backpressure tests: /proc/net/tcp is missing (Linux only)\n\n');
}
const maybe = haveProcNet ? test : test.skip;

// /proc/net/tcp writes addresses as hex in host byte order: 127.0.0.1 is 0100007F on little-endian machines
// (x64, arm64, armv7l); ports are plain hex.
const hexPort = (port: number) => port.toString(16).toUpperCase().padStart(4, '0');

/** Bytes received by the kernel on the broker's end of the connection (127.0.0.1:brokerPort <- clientPort) and not read. */
function unreadByBroker(brokerPort: number, clientPort: number): number {
  const local = `0100007F:${hexPort(brokerPort)}`;
  const remote = `0100007F:${hexPort(clientPort)}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[2] === remote) return parseInt(f[4]!.split(':')[1]!, 16);
  }
  throw new Error(`no socket ${local} <- ${remote} in /proc/net/tcp`);
}

async function pendingBytes(broker: WharfProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.adminPort}/metrics`)).text();
  const m = /^wharf_store_pending_bytes (\d+)$/m.exec(text);
  if (m === null) throw new Error('no wharf_store_pending_bytes in /metrics');
  return Number(m[1]);
}

async function queueDepth(broker: WharfProcess, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/queues/${encodeURIComponent(name)}`);
  return ((await res.json()) as { depth: number }).depth;
}

/** PINGREQ, then the sequence numbers of the PUBLISHes that came before PINGRESP (everything sent before it). */
async function receivedUntilPong(c: RawClient): Promise<number[]> {
  c.send({ cmd: 'pingreq' });
  const seqs: number[] = [];
  for (;;) {
    const p = await c.next(undefined, WAIT_MS);
    if (p.cmd === 'pingresp') return seqs;
    if (p.cmd !== 'publish') throw new Error(`unexpected ${p.cmd}`);
    seqs.push(decodeSeqPayload((p as IPublishPacket).payload as Buffer, PAYLOAD_BYTES));
  }
}

/** All MESSAGES PUBLISH packets in one buffer: one socket write, as fast as the kernel takes it. */
function flood(qos: 0 | 1): Buffer {
  const packets: Buffer[] = [];
  for (let seq = 0; seq < MESSAGES; seq++) {
    const packet = { cmd: 'publish', topic: 'flood/a', payload: seqPayload(seq, PAYLOAD_BYTES), qos, retain: false, dup: false, messageId: qos > 0 ? seq + 1 : undefined };
    packets.push(mqtt.generate(packet as Packet, { protocolVersion: 5 }));
  }
  return Buffer.concat(packets);
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** Polls until the broker has stopped reading the publisher's socket; fails as soon as it read past the bound. */
async function untilStalled(broker: WharfProcess, publisher: RawClient): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const pending = await pendingBytes(broker);
    assert.ok(pending <= PENDING_BOUND, `${pending} bytes wait for their commit: the broker kept reading past maxPendingBytes (${MAX_PENDING})`);
    if (unreadByBroker(broker.port, publisher.socket.localPort!) >= STALLED_UNREAD) return;
    if (Date.now() > deadline) throw new Error(`the broker never left the publisher's bytes unread (${pending} bytes pending)`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function floodWhileCommitsWait(qos: 0 | 1): Promise<void> {
  const ws = Workspace.create(
    // The whole flood fits in the subscriber's socket buffer: QoS 0 deliveries to it are never dropped.
    { maxQueuedMessages: 1_000_000, receiveMaximum: 65535, maxSocketBufferBytes: 64 * 1024 * 1024 },
    `storage:\n  maxPendingBytes: 64KiB\nqueues:\n  definitions:\n    - { name: flood, topicFilter: flood/# }\n`,
  );
  const clients: RawClient[] = [];
  let lock: WriteLock | undefined;
  try {
    const broker = await ws.start();
    const connect = async (clientId: string) => {
      const { client, connack } = await RawClient.connected(broker.port, { clientId }, 5);
      clients.push(client);
      assert.is(connack.reasonCode, 0);
      return client;
    };
    const watcher = await connect('watcher');
    watcher.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos: 0 }] });
    await watcher.next('suback');
    const publisher = await connect('flooder');
    lock = await holdLmdbWriteLock(join(ws.dataDir, 'lmdb'));

    publisher.sendBytes(flood(qos));
    await untilStalled(broker, publisher);
    // The end markers: each PINGRESP leaves after the broker's loop has turned with the publisher's bytes readable.
    const read = await receivedUntilPong(watcher);
    const pending = await pendingBytes(broker);
    assert.equal(await receivedUntilPong(watcher), [], 'nothing more was read from the paused socket');
    assert.is(await pendingBytes(broker), pending);
    assert.ok(unreadByBroker(broker.port, publisher.socket.localPort!) >= STALLED_UNREAD, 'its bytes still wait in the kernel');
    assert.ok(pending > MAX_PENDING, `paused because ${pending} bytes exceed maxPendingBytes`);
    assert.equal(read, range(read.length), 'what was read went on to the subscriber in order');
    assert.ok(read.length * PAYLOAD_BYTES <= PENDING_BOUND, `${read.length} messages read`);

    await lock.release();
    // The store caught up: the socket is read again, to the end, and nothing is lost.
    if (qos === 1) {
      for (const seq of range(MESSAGES)) {
        const ack = (await publisher.next('puback', WAIT_MS)) as Packet & { messageId: number; reasonCode?: number };
        assert.equal([ack.messageId, ack.reasonCode ?? 0], [seq + 1, 0]);
      }
    } else {
      assert.equal(await receivedUntilPong(publisher), []);
    }
    const rest = await receivedUntilPong(watcher);
    assert.equal(rest.length, MESSAGES - read.length);
    assert.ok(rest.every((seq, i) => seq === read.length + i), 'the rest arrived in order');
    const deadline = Date.now() + WAIT_MS;
    while ((await queueDepth(broker, 'flood')) !== MESSAGES) {
      if (Date.now() > deadline) throw new Error(`queue depth ${await queueDepth(broker, 'flood')}, expected ${MESSAGES}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await broker.stop(), { code: 0, signal: null });
  } finally {
    for (const c of clients) c.end();
    await lock?.release();
    await ws.dispose();
  }
}

maybe('QoS 1: a publisher that outruns the commits is not read beyond maxPendingBytes; after the commits catch up all 2000 are acknowledged and queued', () => floodWhileCommitsWait(1));

maybe('QoS 0: the same pause for a QoS 0 publisher (captured by a queue, so stored); all 2000 are queued once the store catches up', () => floodWhileCommitsWait(0));

test.run();
