// End to end: the owner of a persistent session is recorded with it, so the ACL still holds after `kill -9` and a
// restart of `wharf start`: the restored subscriptions of an offline session only queue what its user may read,
// messages queued before the restart are checked again on delivery (an ACL edited while the broker was down), and
// a client reconnecting with the same identifier under another user name inherits nothing (counted as withheld).
// MQTT.js and mosquitto_sub are the clients; "not delivered" is proven by a later message that arrived.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import mqtt, { type IClientOptions } from 'mqtt';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run, startProcess, waitFor } from '../helpers/tools.js';

const test = suite('e2e: ACL on persistent sessions across kill -9 and restart');
const maybe = requireTool(test, 'mosquitto_sub');

const ACL = `
user reader
topic read plant/#
topic deny plant/secret/#

user writer
topic write plant/#

user other
topic read plant/open/#
`;

function workspace(): { ws: Workspace; aclPath: string } {
  const ws = Workspace.create(undefined, '');
  const aclPath = join(ws.dir, 'acl');
  writeFileSync(aclPath, ACL);
  // No password file: user names are taken as given and only select the ACL rules (as in Mosquitto).
  writeFileSync(ws.configPath, `listeners:\n  - { type: tcp, host: 127.0.0.1, port: 1883 }\n  - { type: ws, host: 127.0.0.1, port: 8083, path: /mqtt }\nauth:\n  aclFile: ${aclPath}\n`);
  return { ws, aclPath };
}

async function metric(broker: WharfProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

/** Queued messages of a session, from the admin API. */
async function queuedFor(broker: WharfProcess, clientId: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/sessions/${encodeURIComponent(clientId)}`);
  assert.is(res.status, 200, `session ${clientId} exists`);
  return ((await res.json()) as { queued: number }).queued;
}

/** Connects with a collector in place before CONNACK: queued messages follow it in the same read. */
async function connectCollecting(url: string, opts: IClientOptions) {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 3000, protocolVersion: 5, ...opts });
  const got = collect(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return { client, got };
}

async function publish(broker: WharfProcess, topics: [string, string][]): Promise<void> {
  const w = await connectClient(broker.url, { username: 'writer', clientId: 'writer-1' });
  for (const [topic, payload] of topics) await w.publishAsync(topic, payload, { qos: 1 });
  await endClient(w);
}

maybe('after kill -9 and restart, an offline session of reader queues only what reader may read (mosquitto_sub)', async () => {
  const { ws } = workspace();
  try {
    let broker = await ws.start();
    const sub = ['-h', '127.0.0.1', '-V', 'mqttv5', '-i', 'reader-1', '-c', '-x', '3600', '-u', 'reader', '-t', 'plant/#', '-q', '1', '-v'];
    // -E: subscribe, wait for the SUBACK, disconnect; the session stays (clean start 0, expiry one hour).
    const first = await run('mosquitto_sub', ['-p', String(broker.port), ...sub, '-E'], 5000);
    assert.is(first.code, 0, first.stderr);
    await broker.crash();
    broker = await ws.start();
    await publish(broker, [
      ['plant/secret/key', 'secret'],
      ['plant/open/a', 'open'],
    ]);
    // The restored subscription plant/# matched both; the owner's rules kept the secret out of the session.
    assert.is(await queuedFor(broker, 'reader-1'), 1);
    const back = startProcess('mosquitto_sub', ['-p', String(broker.port), ...sub]);
    try {
      await waitFor(() => back.output().includes('plant/open/a open'), 5000, 'the queued message');
      assert.not.match(back.output(), /secret/);
    } finally {
      back.child.kill('SIGKILL');
      await back.exited;
    }
    assert.is(await metric(broker, 'wharf_auth_deliveries_withheld_total'), 0, 'nothing was queued that had to be withheld');
    await broker.stop();
  } finally {
    await ws.dispose();
  }
});

test('messages queued before kill -9 are checked on delivery against the rules after the restart', async () => {
  const { ws, aclPath } = workspace();
  try {
    let broker = await ws.start();
    const opts = { username: 'reader', clientId: 'reader-2', clean: false, properties: { sessionExpiryInterval: 3600 } };
    let r = await connectClient(broker.url, opts);
    await r.subscribeAsync('plant/#', { qos: 1 });
    await endClient(r);
    await publish(broker, [
      ['plant/b/1', 'no longer readable'],
      ['plant/a/1', 'still readable'],
    ]);
    assert.is(await queuedFor(broker, 'reader-2'), 2);
    await broker.crash();
    // While the broker is down the ACL is edited: reader may now read plant/a/# only.
    writeFileSync(aclPath, ACL.replace('topic read plant/#', 'topic read plant/a/#'));
    broker = await ws.start();
    const back = await connectCollecting(broker.url, opts);
    const got = back.got;
    await got.waitCount(1);
    // plant/# went from the session on its return (reader may no longer subscribe to it): a narrower one now.
    // Its later message proves the one queued before the others is not coming.
    await back.client.subscribeAsync('plant/a/#', { qos: 1 });
    await publish(broker, [['plant/a/2', 'later']]);
    await got.waitCount(2);
    assert.equal(
      got.messages.map((m) => `${m.topic} ${m.payload}`),
      ['plant/a/1 still readable', 'plant/a/2 later'],
    );
    assert.is(await metric(broker, 'wharf_auth_deliveries_withheld_total'), 1);
    await endClient(back.client);
    await broker.stop();
  } finally {
    await ws.dispose();
  }
});

test('another user reconnecting with the client id after kill -9 and restart inherits no session and no message', async () => {
  const { ws } = workspace();
  try {
    let broker = await ws.start();
    const opts = { clientId: 'device-7', clean: false, properties: { sessionExpiryInterval: 3600 } };
    const r = await connectClient(broker.url, { ...opts, username: 'reader' });
    await r.subscribeAsync('plant/#', { qos: 1 });
    await endClient(r);
    // plant/open/x is readable by "other" too: only the session's owner decides who gets it.
    await publish(broker, [['plant/open/x', "reader's message"]]);
    await broker.crash();
    broker = await ws.start();
    const { client: o, got } = await connectCollecting(broker.url, { ...opts, username: 'other' });
    await o.subscribeAsync('plant/open/#', { qos: 1 });
    await publish(broker, [['plant/open/y', 'after']]);
    await got.waitCount(1);
    assert.equal(
      got.messages.map((m) => m.payload),
      ['after'],
    );
    assert.is(await metric(broker, 'wharf_auth_deliveries_withheld_total'), 1);
    await endClient(o);
    await broker.stop();
  } finally {
    await ws.dispose();
  }
});

test.run();
