// Fuzz-ish robustness: 200 random byte strings from a seeded PRNG, each on a fresh connection (half of them
// after a valid CONNECT so they reach the post-CONNECT parser and handlers). The broker must survive every one,
// release every connection and session, and keep serving well-behaved clients.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt from 'mqtt-packet';
import type { Packet } from 'mqtt-packet';
import { startBroker } from '../../helpers/broker.js';
import { RawClient } from '../../helpers/raw-client.js';
import { waitFor } from '../../helpers/tools.js';
import { withWitnesses } from '../../helpers/witness.js';
import { prng } from '../../helpers/prng.js';

const test = suite('08-violations: fuzz');

const SEED = 0x5eed2024;
const CASES = 200;

function randomBytes(rand: () => number): Buffer {
  const len = 1 + Math.floor(rand() * 96);
  const buf = Buffer.alloc(len);
  for (let i = 0; i < len; i++) buf[i] = Math.floor(rand() * 256);
  // Bias a third of the cases towards plausible packets: a real packet type with a short Remaining Length.
  if (rand() < 0.33) {
    buf[0] = (Math.floor(rand() * 15) + 1) << 4 | (buf[0]! & 0x0f);
    if (len > 1) buf[1] = Math.floor(rand() * (len - 1));
  }
  return buf;
}

function connectBytes(version: 4 | 5, clientId: string): Buffer {
  return mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId } as Packet, { protocolVersion: version });
}

test(`${CASES} random byte strings (seed 0x${SEED.toString(16)}), each on a fresh connection: broker survives, frees every connection, keeps routing`, async () => {
  const tb = await startBroker();
  try {
    const rand = prng(SEED);
    await withWitnesses(tb, async () => {
      for (let i = 0; i < CASES; i++) {
        const bytes = randomBytes(rand);
        const mode = i % 4; // 0, 1: raw; 2: after a 3.1.1 CONNECT; 3: after a 5.0 CONNECT
        const version = mode === 3 ? 5 : 4;
        const client = await RawClient.connect(tb.port, version);
        try {
          const prefix = mode >= 2 ? connectBytes(version, `fuzz-${i}`) : Buffer.alloc(0);
          client.sendBytes(Buffer.concat([prefix, bytes]));
          // End our side: whatever the bytes were (even an incomplete packet), the broker must close promptly.
          client.socket.end();
          await client.expectClose(2000).catch((err: Error) => {
            throw new Error(`case ${i} (${bytes.toString('hex')}): ${err.message}`);
          });
        } finally {
          client.end();
        }
      }
      await waitFor(() => tb.broker.connections.size === 1, 2000, 'fuzz connections to be released');
    });
    await waitFor(() => tb.broker.connections.size === 0, 2000, 'every connection to be released');
    assert.is(tb.broker.connections.size, 0);
    assert.is(tb.broker.sessions.size, 0, 'every clean session ended');
    assert.is(tb.broker.stats.connectionsAccepted, CASES + 2);
  } finally {
    await tb.stop();
  }
});

test.run();
