// The broker writes PUBACK/PUBREC/PUBREL/PUBCOMP without properties itself (codec.ts encodeAck); whatever it
// writes must read back, through mqtt-packet's parser, as the packet it was asked to send, on 3.1.1 and 5.0.

import mqtt, { type Packet } from 'mqtt-packet';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePacket, type ProtocolVersion } from '../../src/protocol/codec.js';

const test = suite('protocol: acknowledgement encoding');

function parseBack(buf: Buffer, protocolVersion: ProtocolVersion): Packet[] {
  const parser = mqtt.parser({ protocolVersion });
  const out: Packet[] = [];
  parser.on('packet', (p: Packet) => out.push(p));
  parser.on('error', (e: Error) => {
    throw e;
  });
  parser.parse(buf);
  return out;
}

const CMDS = ['puback', 'pubrec', 'pubrel', 'pubcomp'] as const;
/** Reason codes each acknowledgement may carry (MQTT 5.0 sections 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1). */
const REASON_CODES: Record<(typeof CMDS)[number], number[]> = {
  puback: [0, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrec: [0, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0, 0x92],
  pubcomp: [0, 0x92],
};

test('every acknowledgement, packet identifier edge and reason code reads back unchanged', () => {
  for (const version of [4, 5] as ProtocolVersion[]) {
    for (const cmd of CMDS) {
      for (const messageId of [1, 2, 255, 256, 0x7fff, 0xffff]) {
        for (const reasonCode of version === 5 ? REASON_CODES[cmd] : [undefined]) {
          const packet = { cmd, messageId, ...(reasonCode === undefined ? {} : { reasonCode }) } as Packet;
          const buf = encodePacket(packet, version);
          const [back, ...more] = parseBack(buf, version);
          assert.is(more.length, 0);
          const b = back as { cmd: string; messageId: number; reasonCode?: number };
          assert.is(b.cmd, cmd, `${cmd} v${version}`);
          assert.is(b.messageId, messageId, `${cmd} id ${messageId} v${version}`);
          if (version === 5) assert.is(b.reasonCode ?? 0, reasonCode, `${cmd} reason code v${version}`);
          // The shortest form the specification allows.
          assert.is(buf.length, version === 5 && reasonCode !== 0 ? 5 : 4, `${cmd} 0x${reasonCode?.toString(16)} v${version} length`);
        }
      }
    }
  }
});

test('PUBREL carries the fixed header flags 0010 [MQTT-3.6.1-1]', () => {
  assert.is(encodePacket({ cmd: 'pubrel', messageId: 9 } as Packet, 4)[0], 0x62);
  assert.is(encodePacket({ cmd: 'pubrel', messageId: 9, reasonCode: 0x92 } as Packet, 5)[0], 0x62);
});

test('acknowledgements with properties still go through mqtt-packet, and keep them', () => {
  const packet = { cmd: 'puback', messageId: 7, reasonCode: 0x80, properties: { reasonString: 'no' } } as Packet;
  const buf = encodePacket(packet, 5);
  assert.equal(buf, mqtt.generate(packet, { protocolVersion: 5 }));
  const [back] = parseBack(buf, 5);
  assert.is((back as { properties?: { reasonString?: string } }).properties?.reasonString, 'no');
});

test.run();
