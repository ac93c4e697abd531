// Packets larger than the broker's Maximum Packet Size: refused with DISCONNECT 0x95 on 5.0 (a bare close on
// 3.1.1) as soon as the Remaining Length is read, without waiting for (or buffering) the body [MQTT-3.2.2-15].

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import type { IConnackPacket, Packet } from 'mqtt-packet';
import { RawClient } from '../../helpers/raw-client.js';
import { startBroker, type TestBroker } from '../../helpers/broker.js';
import { expectClosedWith, label, summary, VERSIONS, withWitnesses, type Version } from '../../helpers/witness.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';
import { beforePing } from '../../helpers/end-marker.js';

const test = suite('08-violations: oversized packets');

const LIMIT = 1024;

/** Variable Byte Integer encoding (section 1.5.5). */
function varInt(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

/** A QoS 0 PUBLISH to `big` whose encoded size is exactly `size` bytes, and its payload length. */
function publishOfSize(size: number, v: Version): { bytes: Buffer; payloadLength: number } {
  const make = (n: number) => mqtt.generate({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(n, 0x61), qos: 0, retain: false, dup: false } as Packet, { protocolVersion: v });
  const overhead = make(200).length - 200;
  const bytes = make(size - overhead);
  assert.is(bytes.length, size);
  return { bytes, payloadLength: size - overhead };
}

async function withBroker(limits: { maxPacketSize?: number }, fn: (tb: TestBroker) => Promise<void>): Promise<void> {
  const tb = await startBroker(limits);
  try {
    await fn(tb);
  } finally {
    await tb.stop();
  }
}

for (const v of VERSIONS) {
  const outcome = v === 5 ? 'DISCONNECT 0x95' : 'closed without DISCONNECT';

  test(`PUBLISH one byte over Maximum Packet Size -> ${outcome} (${label(v)}), a PUBLISH of exactly the limit is routed`, () =>
    withBroker({ maxPacketSize: LIMIT }, (tb) =>
      withWitnesses(tb, async () => {
        const { client: sub } = await RawClient.connected(tb.port, { clientId: `sub-${v}` }, v);
        const { client, connack } = await RawClient.connected(tb.port, { clientId: `big-${v}` }, v);
        try {
          if (v === 5) assert.is((connack as IConnackPacket).properties?.maximumPacketSize, LIMIT);
          sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'big', qos: 0 }] });
          await sub.next('suback');
          const atLimit = publishOfSize(LIMIT, v);
          client.sendBytes(atLimit.bytes);
          const got = (await sub.next('publish')) as mqtt.IPublishPacket;
          assert.is(got.payload.length, atLimit.payloadLength);
          client.sendBytes(publishOfSize(LIMIT + 1, v).bytes);
          await expectClosedWith(client, v === 5 ? ReasonCode.PacketTooLarge : null);
          assert.equal(await beforePing(sub), [], 'the oversized PUBLISH is not routed');
        } finally {
          client.end();
          sub.end();
        }
      }),
    ),
  );

  test(`only a fixed header claiming a 200 MB body -> ${outcome} at once, the body is not awaited (${label(v)})`, () =>
    withBroker({}, (tb) =>
      withWitnesses(tb, async () => {
        const { client } = await RawClient.connected(tb.port, { clientId: `huge-${v}` }, v);
        try {
          const started = Date.now();
          client.sendBytes([0x30, ...varInt(200 * 1024 * 1024)]);
          await expectClosedWith(client, v === 5 ? ReasonCode.PacketTooLarge : null);
          assert.ok(Date.now() - started < 500, `closed after ${Date.now() - started} ms`);
        } finally {
          client.end();
        }
      }),
    ),
  );

  test(`a 200 MB PUBLISH being streamed is cut off long before its end (${label(v)})`, () =>
    withBroker({}, (tb) =>
      withWitnesses(tb, async () => {
        const { client } = await RawClient.connected(tb.port, { clientId: `stream-${v}` }, v);
        try {
          const total = 200 * 1024 * 1024;
          client.sendBytes([0x30, ...varInt(total)]);
          // Keep writing 64 KiB chunks until the broker hangs up; it must not take the whole body first.
          const chunk = Buffer.alloc(64 * 1024, 0x61);
          let sent = 0;
          while (!client.isClosed && sent < total) {
            if (!client.socket.write(chunk)) await new Promise((r) => client.socket.once('drain', r).once('close', r));
            sent += chunk.length;
          }
          await client.closed;
          assert.ok(sent < 16 * 1024 * 1024, `broker read ${sent} bytes before closing`);
        } finally {
          client.end();
        }
      }),
    ),
  );
}

test('an oversized CONNECT (large will payload) -> closed without CONNACK or DISCONNECT', () =>
  withBroker({ maxPacketSize: LIMIT }, (tb) =>
    withWitnesses(tb, async () => {
      const client = await RawClient.connect(tb.port, 5);
      try {
        client.send({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clean: true,
          keepalive: 60,
          clientId: 'big-will',
          will: { topic: 'w', payload: Buffer.alloc(2 * LIMIT), qos: 0, retain: false },
        } as Packet);
        const got = (await client.expectClose()).map(summary);
        assert.equal(got, []);
      } finally {
        client.end();
      }
    }),
  ),
);

test.run();
