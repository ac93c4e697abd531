// The acknowledgements of a client's publishes leave as the exact bytes of MQTT 3.1.1 / 5.0 (4 bytes, or 5 with
// a reason code other than Success on 5.0), in the order of the publishes, interleaved in order with the other
// packets the broker writes meanwhile: however many are written into the connection's acknowledgement buffer
// (connection.ts writeAck) within one tick.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import { PubKit, publishPacket } from '../../helpers/publish-kit.js';
import { ReasonCode } from '../../../src/protocol/reason-codes.js';

const test = suite('03-publish: acknowledgement bytes');

const COUNT = 300; // more than one acknowledgement buffer holds
const PING_AFTER = 150;

/** What the broker must send back for the publishes (odd ones on a topic nobody subscribed to) and the PINGREQ. */
function expectedBytes(version: 4 | 5): Buffer {
  const out: number[] = [];
  for (let id = 1; id <= COUNT; id++) {
    const code = version === 5 && id % 2 === 1 ? ReasonCode.NoMatchingSubscribers : 0;
    out.push(0x40, code === 0 ? 2 : 3, id >> 8, id & 0xff);
    if (code !== 0) out.push(code);
    if (id === PING_AFTER) out.push(0xd0, 0x00);
  }
  return Buffer.from(out);
}

for (const version of [4, 5] as const) {
  test(`v${version === 5 ? '5.0' : '3.1.1'}: ${COUNT} PUBACKs and a PINGRESP, sent in one write, come back byte for byte in order`, async () => {
    await PubKit.run({}, async (k) => {
      await k.rawSub([{ topic: 'ack/yes', qos: 0 }], { version, connect: { clientId: `ack-sub-${version}` } });
      const { client: pub } = await k.raw({ clientId: `ack-pub-${version}` }, version);
      const received: Buffer[] = [];
      pub.socket.on('data', (d: Buffer) => received.push(d));
      const wire: Buffer[] = [];
      for (let id = 1; id <= COUNT; id++) {
        wire.push(mqtt.generate(publishPacket(id % 2 === 1 ? 'ack/no' : 'ack/yes', 'x', { qos: 1, messageId: id }), { protocolVersion: version }));
        if (id === PING_AFTER) wire.push(Buffer.from([0xc0, 0x00]));
      }
      pub.sendBytes(Buffer.concat(wire));
      for (let i = 0; i < COUNT + 1; i++) await pub.next(i === PING_AFTER ? 'pingresp' : 'puback');
      assert.equal(Buffer.concat(received).toString('hex'), expectedBytes(version).toString('hex'));
    });
  });
}

test.run();
