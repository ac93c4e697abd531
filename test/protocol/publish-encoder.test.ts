import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import type { IPublishPacket } from 'mqtt-packet';
import { encodeMessageProperties, encodePublish, PAYLOAD_COPY_MAX, type PublishFields } from '../../src/protocol/publish-encoder.js';
import type { MessageProperties } from '../../src/protocol/message.js';

const enc = suite('publish encoder');

function parse(bytes: Buffer, protocolVersion: 4 | 5): IPublishPacket {
  const parser = mqtt.parser({ protocolVersion });
  let packet: IPublishPacket | undefined;
  parser.on('packet', (p) => (packet = p as IPublishPacket));
  parser.on('error', (e) => assert.unreachable(e.message));
  parser.parse(bytes);
  assert.ok(packet, 'one complete packet');
  return packet!;
}

function encodeWhole(f: PublishFields, props: Parameters<typeof encodePublish>[1]): Buffer {
  const head = encodePublish(f, props);
  return f.payload.length > PAYLOAD_COPY_MAX ? Buffer.concat([head, f.payload]) : head;
}

enc('3.1.1 packets parse back to the same fields for every QoS and flag', () => {
  for (const qos of [0, 1, 2] as const) {
    for (const retain of [false, true]) {
      for (const dup of [false, true]) {
        const f: PublishFields = { topic: 'a/b/ünïcode', payload: Buffer.from('hello'), qos, retain, dup, packetId: qos ? 513 : 0 };
        const p = parse(encodeWhole(f, null), 4);
        assert.is(p.topic, f.topic);
        assert.equal(p.payload, f.payload);
        assert.is(p.qos, qos);
        assert.is(p.retain, retain);
        assert.is(p.dup, dup);
        if (qos) assert.is(p.messageId, 513);
      }
    }
  }
});

enc('5.0 properties round-trip: end-to-end ones, expiry, alias and several subscription identifiers', () => {
  const properties: MessageProperties = {
    payloadFormatIndicator: true,
    contentType: 'application/json',
    responseTopic: 'reply/here',
    correlationData: Buffer.from([1, 2, 3, 250]),
    userProperties: { command_type: 'set-color', multi: ['x', 'y'] },
  };
  const f: PublishFields = { topic: 'lights/1', payload: Buffer.from('{"c":"green"}'), qos: 1, retain: false, dup: false, packetId: 7 };
  const p = parse(
    encodeWhole(f, { messageExpiryInterval: 30, topicAlias: 3, subscriptionIds: [1, 300, 70000], messageProperties: encodeMessageProperties(properties) }),
    5,
  );
  const got = p.properties!;
  assert.is(got.payloadFormatIndicator, true);
  assert.is(got.contentType, 'application/json');
  assert.is(got.responseTopic, 'reply/here');
  assert.equal(got.correlationData, Buffer.from([1, 2, 3, 250]));
  assert.equal({ ...got.userProperties }, { command_type: 'set-color', multi: ['x', 'y'] });
  assert.is(got.messageExpiryInterval, 30);
  assert.is(got.topicAlias, 3);
  assert.equal(got.subscriptionIdentifier, [1, 300, 70000]);
});

enc('5.0 without properties has an empty property block; an aliased publish may have an empty topic', () => {
  const f: PublishFields = { topic: '', payload: Buffer.from('x'), qos: 0, retain: false, dup: false, packetId: 0 };
  const bytes = encodeWhole(f, { messageExpiryInterval: -1, topicAlias: 2, subscriptionIds: undefined, messageProperties: Buffer.alloc(0) });
  const p = parse(bytes, 5);
  assert.is(p.topic, '');
  assert.is(p.properties?.topicAlias, 2);
  const plain = encodeWhole({ ...f, topic: 't' }, { messageExpiryInterval: -1, topicAlias: 0, subscriptionIds: undefined, messageProperties: Buffer.alloc(0) });
  assert.equal([...plain], [0x30, 5, 0, 1, 0x74, 0, 0x78]);
});

enc('a large payload is left out of the header buffer and not copied', () => {
  const payload = Buffer.alloc(PAYLOAD_COPY_MAX + 1000, 7);
  const f: PublishFields = { topic: 'img', payload, qos: 1, retain: false, dup: false, packetId: 9 };
  const head = encodePublish(f, null);
  assert.ok(head.length < 20, `header only, got ${head.length} bytes`);
  const p = parse(Buffer.concat([head, payload]), 4);
  assert.equal(p.payload, payload);
});

enc('remaining lengths on the 1/2/3-byte boundaries encode correctly', () => {
  for (const size of [120, 124, 125, 126, 127, 128, 16380, 16383, 16384, 20000]) {
    const payload = Buffer.alloc(size, 1);
    const f: PublishFields = { topic: 't', payload, qos: 0, retain: false, dup: false, packetId: 0 };
    const p = parse(encodeWhole(f, null), 4);
    assert.is(p.payload.length, size, `payload of ${size}`);
  }
});

enc.run();
