// Interoperability with the Eclipse Mosquitto command-line clients (Debian package mosquitto-clients):
// mosquitto_pub / mosquitto_sub against the in-process broker, MQTT 3.1.1 and 5.0.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ChildProcess } from 'node:child_process';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { requireTool, run, startProcess, waitFor } from '../helpers/tools.js';

const test = suite('interop: mosquitto_pub / mosquitto_sub');

/** Registers a test that needs the Mosquitto clients (skipped and counted without them, a failure under CI=true). */
const withClients = requireTool(test, 'mosquitto_pub', 'mosquitto_sub');
const VERSIONS = [
  ['mqttv311', '3.1.1'],
  ['mqttv5', '5.0'],
] as const;
type V = (typeof VERSIONS)[number][0];

async function withBroker(fn: (tb: TestBroker, children: ChildProcess[]) => Promise<void>): Promise<void> {
  const tb = await startBroker();
  const children: ChildProcess[] = [];
  try {
    await fn(tb, children);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('close', r)) : null)));
    await tb.stop();
  }
}

const common = (tb: TestBroker, v: V) => ['-h', '127.0.0.1', '-p', String(tb.port), '-V', v];

async function pub(tb: TestBroker, v: V, args: string[]): Promise<void> {
  const r = await run('mosquitto_pub', [...common(tb, v), ...args], 5000);
  assert.is(r.code, 0, `mosquitto_pub ${args.join(' ')}: ${r.stderr}`);
}

/** Starts mosquitto_sub and waits until the broker holds its subscription (no sleeps). */
async function startSub(tb: TestBroker, children: ChildProcess[], v: V, clientId: string, args: string[]) {
  const p = startProcess('mosquitto_sub', [...common(tb, v), '-i', clientId, ...args]);
  children.push(p.child);
  await waitFor(() => (tb.broker.sessions.byClientId.get(clientId)?.subscriptions.size ?? 0) > 0, 3000, `${clientId} to subscribe`);
  return p;
}

async function finished(p: ReturnType<typeof startProcess>): Promise<string> {
  const code = await p.exited;
  assert.is(code, 0, `mosquitto_sub exit code; output: ${p.output()}`);
  return p.output();
}

for (const [v, label] of VERSIONS) {
  withClients(`QoS 0, 1 and 2 from mosquitto_pub reach mosquitto_sub (-V ${v}, ${label})`, async () => {
    await withBroker(async (tb, children) => {
      const sub = await startSub(tb, children, v, `sub-${v}`, ['-q', '2', '-t', 'q/#', '-C', '3', '-F', '%t|%q|%p']);
      for (const qos of ['0', '1', '2']) await pub(tb, v, ['-q', qos, '-t', `q/${qos}`, '-m', `m${qos}`]);
      assert.is(await finished(sub), 'q/0|0|m0\nq/1|1|m1\nq/2|2|m2\n');
    });
  });

  withClients(`a retained message (-r) is delivered to a later mosquitto_sub -C 1 with the retain flag (-V ${v}, ${label})`, async () => {
    await withBroker(async (tb) => {
      await pub(tb, v, ['-q', '1', '-r', '-t', 'r/state', '-m', 'kept']);
      const r = await run('mosquitto_sub', [...common(tb, v), '-t', 'r/#', '-C', '1', '-W', '5', '-F', '%t|%r|%p'], 6000);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stdout, 'r/state|1|kept\n');
    });
  });

  withClients(`the will of a mosquitto_sub killed with SIGKILL is published (-V ${v}, ${label})`, async () => {
    await withBroker(async (tb, children) => {
      const rx = await startSub(tb, children, v, `will-rx-${v}`, ['-q', '1', '-t', 'will/#', '-C', '1', '-F', '%t|%q|%p']);
      const dying = await startSub(tb, children, v, `dying-${v}`, [
        '-t', 'whatever', '--will-topic', 'will/dying', '--will-payload', 'gone', '--will-qos', '1',
      ]);
      dying.child.kill('SIGKILL');
      assert.is(await finished(rx), 'will/dying|1|gone\n');
    });
  });

  withClients(`a persistent session (-c -i) receives QoS 1 messages published while it was away (-V ${v}, ${label})`, async () => {
    await withBroker(async (tb) => {
      const id = `persist-${v}`;
      // -E: subscribe, wait for SUBACK, disconnect normally; the session stays (-c).
      const first = await run('mosquitto_sub', [...common(tb, v), '-c', '-i', id, '-q', '1', '-t', 'away/#', '-E'], 5000);
      assert.is(first.code, 0, first.stderr);
      const session = tb.broker.sessions.byClientId.get(id);
      assert.ok(session, 'session kept after the client left');
      assert.is(session!.link, null);
      await pub(tb, v, ['-q', '1', '-t', 'away/1', '-m', 'one']);
      await pub(tb, v, ['-q', '1', '-t', 'away/2', '-m', 'two']);
      const back = await run('mosquitto_sub', [...common(tb, v), '-c', '-i', id, '-q', '1', '-t', 'away/#', '-C', '2', '-W', '5', '-F', '%t|%q|%p'], 6000);
      assert.is(back.code, 0, back.stderr);
      assert.is(back.stdout, 'away/1|1|one\naway/2|1|two\n');
    });
  });
}

withClients('MQTT 5 user properties and content type from mosquitto_pub -D reach mosquitto_sub (-F %P / %C)', async () => {
  await withBroker(async (tb, children) => {
    const sub = await startSub(tb, children, 'mqttv5', 'props-sub', ['-t', 'props', '-C', '1', '-F', '%P|%C|%p']);
    await pub(tb, 'mqttv5', [
      '-t', 'props', '-m', 'body',
      '-D', 'PUBLISH', 'user-property', 'site', 'north',
      '-D', 'PUBLISH', 'user-property', 'line', '7',
      '-D', 'PUBLISH', 'content-type', 'text/plain',
    ]);
    assert.is(await finished(sub), 'site:north line:7|text/plain|body\n');
  });
});

withClients('a 3.1.1 mosquitto_sub receives a message published with MQTT 5 user properties (properties dropped)', async () => {
  await withBroker(async (tb, children) => {
    const sub = await startSub(tb, children, 'mqttv311', 'old-sub', ['-t', 'mixed', '-C', '1', '-F', '%t|%p']);
    await pub(tb, 'mqttv5', ['-t', 'mixed', '-m', 'hello', '-D', 'PUBLISH', 'user-property', 'k', 'v']);
    assert.is(await finished(sub), 'mixed|hello\n');
  });
});

test.run();
