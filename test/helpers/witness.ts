// Protocol-violation tests: a well-behaved "witness" client connected before the misbehaving one, and a second
// one connected after, prove the broker keeps routing for everyone else. Also the expected ending of the
// misbehaving connection: DISCONNECT with a reason code on 5.0, a bare close on 3.1.1.

import * as assert from 'uvu/assert';
import type { MqttClient } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import type { Test } from 'uvu';
import { startBroker, type TestBroker } from './broker.js';
import { collect, connectClient, endClient } from './mqttjs.js';
import { RawClient } from './raw-client.js';
import { waitFor } from './tools.js';

/**
 * Runs `misbehave` between a witness connected before and one connected after, then checks both can still
 * publish to and receive from each other, and that only the two witnesses are left connected.
 */
export async function withWitnesses(tb: TestBroker, misbehave: () => Promise<void>): Promise<void> {
  const clients: MqttClient[] = [];
  try {
    const before = await connectClient(tb.url, { clientId: 'witness-before' });
    clients.push(before);
    const beforeInbox = collect(before);
    await before.subscribeAsync('witness/#', { qos: 1 });

    await misbehave();

    // 3.1.1 for the second witness, so both protocol versions are exercised after the violation.
    const after = await connectClient(tb.url, { clientId: 'witness-after', protocolVersion: 4 });
    clients.push(after);
    const afterInbox = collect(after);
    await after.subscribeAsync('witness/#', { qos: 1 });
    await waitFor(() => tb.broker.connections.size === 2, 2000, 'only the two witnesses to stay connected');

    await after.publishAsync('witness/from-after', 'A', { qos: 1 });
    await before.publishAsync('witness/from-before', 'B', { qos: 1 });
    await beforeInbox.waitCount(2);
    await afterInbox.waitCount(2);
    const seen = (m: { topic: string; payload: string }[]) => m.map((x) => `${x.topic}=${x.payload}`).sort();
    assert.equal(seen(beforeInbox.messages), ['witness/from-after=A', 'witness/from-before=B']);
    assert.equal(seen(afterInbox.messages), ['witness/from-after=A', 'witness/from-before=B']);
    assert.is(before.connected, true, 'the witness connected before the violation is still connected');
  } finally {
    await Promise.all(clients.map((c) => endClient(c, true)));
  }
}

/** Summary of a packet for exact comparisons: the command and, where present, its reason code. */
export function summary(p: Packet): string {
  const rc = (p as { reasonCode?: number }).reasonCode;
  return rc === undefined ? p.cmd : `${p.cmd}:0x${rc.toString(16).padStart(2, '0')}`;
}

/**
 * The broker must close `client`'s connection: on 5.0 (after a successful CONNACK) with exactly one DISCONNECT
 * carrying `reasonCode` [MQTT-4.13.1-1]; on 3.1.1, or before CONNACK on 5.0 [MQTT-3.14.0-1], with no packet at all.
 */
export async function expectClosedWith(client: RawClient, reasonCode: number | null): Promise<void> {
  const got = (await client.expectClose()).map(summary);
  const want = reasonCode === null ? [] : [`disconnect:0x${reasonCode.toString(16).padStart(2, '0')}`];
  assert.equal(got, want);
}

export type Version = 4 | 5;
export const VERSIONS: Version[] = [5, 4];
export const label = (v: Version): string => (v === 5 ? '5.0' : '3.1.1');

/** Registers on `test` violation cases that each run on a fresh broker with witnesses around the offender. */
export function violationCases(test: Test) {
  async function withBroker(fn: (tb: TestBroker) => Promise<void>): Promise<void> {
    const tb = await startBroker();
    try {
      await fn(tb);
    } finally {
      await tb.stop();
    }
  }

  /** After a successful CONNECT, `bytes` must end the connection: DISCONNECT `code` on 5.0, a bare close on 3.1.1. */
  function afterConnect(name: string, bytes: (v: Version) => Buffer, code: number, versions: Version[] = VERSIONS): void {
    for (const v of versions) {
      const outcome = v === 5 ? `DISCONNECT 0x${code.toString(16)}` : 'closed without DISCONNECT';
      test(`${name} -> ${outcome} (${label(v)}), other clients unaffected`, () =>
        withBroker((tb) =>
          withWitnesses(tb, async () => {
            const { client } = await RawClient.connected(tb.port, { clientId: `offender-${v}` }, v);
            try {
              client.sendBytes(bytes(v));
              await expectClosedWith(client, v === 5 ? code : null);
            } finally {
              client.end();
            }
          }),
        ),
      );
    }
  }

  /** Before CONNECT, `bytes` must make the broker close the connection without sending anything [MQTT-3.14.0-1]. */
  function beforeConnect(name: string, bytes: Buffer): void {
    test(`${name} -> closed without any packet, other clients unaffected`, () =>
      withBroker((tb) =>
        withWitnesses(tb, async () => {
          const client = await RawClient.connect(tb.port, 5);
          try {
            client.sendBytes(bytes);
            await expectClosedWith(client, null);
          } finally {
            client.end();
          }
        }),
      ),
    );
  }

  return { afterConnect, beforeConnect, withBroker };
}
