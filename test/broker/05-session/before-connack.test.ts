// A persistent session's CONNACK waits for the commit of its session record. A connection that closes, or is
// taken over, during that wait was accepted all the same: the packets it sent before (clients need not wait for
// CONNACK), its will and its session's expiry count as they would have had the disk been quicker.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import type { TestBroker } from '../../helpers/broker.js';
import { beforeMarker, beforePing, MARKER_TOPIC, publishEndMarker } from '../../helpers/end-marker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { holdSessionCommits } from '../../helpers/slow-disk.js';
import { nextPublish, subscribe, withBroker } from '../../helpers/sub-harness.js';
import { waitFor } from '../../helpers/tools.js';

const test = suite('session: closed before CONNACK');

/** Writes `packets` (3.1.1) on a new socket in one write, then closes the socket; resolves once the broker saw the close. */
async function sendAndClose(tb: TestBroker, packets: Packet[]): Promise<void> {
  const before = tb.broker.connections.size;
  const socket = net.connect(tb.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('data', () => {});
  socket.on('error', () => {});
  await waitFor(() => tb.broker.connections.size === before + 1, 2000, 'the broker to accept the socket');
  socket.end(Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: 4 }))));
  await waitFor(() => tb.broker.connections.size === before, 2000, 'the broker to see the close');
}

const connect = (clientId: string, will?: { topic: string; payload: Buffer }): Packet =>
  ({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId, will: will && { ...will, qos: 0, retain: false } }) as Packet;

test('a QoS 0 PUBLISH and DISCONNECT sent right after CONNECT count when the connection closes before CONNACK', () =>
  withBroker(async (h) => {
    const sub = await h.raw({ clientId: 'sub' });
    await subscribe(sub, [{ topic: 'piped/#', qos: 0 }]);
    const disk = holdSessionCommits(h.tb);
    await sendAndClose(h.tb, [
      connect('piped', { topic: 'piped/will', payload: Buffer.from('gone') }),
      { cmd: 'publish', topic: 'piped/data', payload: Buffer.from('reading'), qos: 0, retain: false, dup: false } as Packet,
      { cmd: 'disconnect' } as Packet,
    ]);
    disk.open();
    assert.is((await nextPublish(sub)).text, 'reading');
    // The DISCONNECT was handled: the will went with it (anything published then came before this PINGRESP).
    assert.equal(await beforePing(sub), []);
    const session = h.broker.sessions.byClientId.get('piped');
    assert.ok(session !== undefined, 'the persistent session is kept');
    assert.is(session.connected, false);
  }));

test('the will of a connection that drops before its CONNACK is published [MQTT-3.1.2-8]', () =>
  withBroker(async (h) => {
    const watcher = await h.raw({ clientId: 'watcher' });
    await subscribe(watcher, [{ topic: 'dropped/will', qos: 0 }]);
    const disk = holdSessionCommits(h.tb);
    await sendAndClose(h.tb, [connect('dropped', { topic: 'dropped/will', payload: Buffer.from('offline') })]);
    disk.open();
    assert.is((await nextPublish(watcher)).text, 'offline');
    assert.is(h.broker.sessions.byClientId.get('dropped')?.connected, false, 'the persistent session is kept');
  }));

test('a connection taken over while its CONNACK waits is closed without a packet; what it sent and its will count [MQTT-3.1.4-3]', () =>
  withBroker(async (h) => {
    const watcher = await h.raw({ clientId: 'watcher' });
    await subscribe(watcher, [
      { topic: 'early/#', qos: 0 },
      { topic: MARKER_TOPIC, qos: 0 },
    ]);
    const disk = holdSessionCommits(h.tb);
    const first = await RawClient.connect(h.tb.port, 4);
    // One write: the PUBLISH arrives with the CONNECT and waits with it.
    first.sendBytes(
      Buffer.concat([
        mqttPacket.generate(connect('early', { topic: 'early/will', payload: Buffer.from('taken over') })),
        mqttPacket.generate({ cmd: 'publish', topic: 'early/data', payload: Buffer.from('before takeover'), qos: 0, retain: false, dup: false } as Packet),
      ]),
    );
    await waitFor(() => [...h.broker.connections].some((c) => c.clientId === 'early'), 2000, 'the first CONNECT to be handled');
    const second = await RawClient.connect(h.tb.port, 4);
    second.send(connect('early'));
    assert.equal(await first.expectClose(), [], 'the first connection gets neither CONNACK nor DISCONNECT');
    await publishEndMarker(h.tb.port, MARKER_TOPIC);
    assert.equal((await beforeMarker(watcher)).sort(), ['publish early/data before takeover', 'publish early/will taken over']);
    disk.open();
    const connack = (await second.next('connack')) as Packet & { sessionPresent: boolean; returnCode: number };
    assert.equal([connack.returnCode, connack.sessionPresent], [0, true]);
    second.end();
  }));

test.run();
