// End to end: the built `wharf` binary's client commands against a `wharf start` child process: status, queues
// (create, list, show, peek, purge, delete), clients, --json, and every documented exit code (0, 2-6); also
// `wharf start` refusing an admin API off loopback without a token.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import type { MqttClient } from 'mqtt';
import { freePort, portAccepts, WHARF_MAIN, Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';

const test = suite('e2e: wharf client commands');
const TOKEN = 'e2e-admin-token-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function wharf(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of ['WHARF_ADMIN', 'WHARF_ADMIN_TOKEN']) if (env[k] === undefined) delete e[k];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_MAIN, ...args], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Rows of a table printed by the CLI, cells split on runs of two or more spaces. */
function rows(text: string): string[][] {
  return text.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

let ws: Workspace;
let broker: WharfProcess;
let admin: string;
const clients: MqttClient[] = [];

test.before(async () => {
  ws = Workspace.create();
  broker = await ws.start();
  admin = `127.0.0.1:${broker.adminPort}`;
});

test.after(async () => {
  await Promise.all(clients.map((c) => endClient(c, true)));
  await broker.stop();
  await ws.dispose();
});

test('status reports a ready broker (exit 0), --json gives the figures', async () => {
  const r = await wharf(['status', '--admin', admin]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Wharf \d+\.\d+\.\d+ at 127\.0\.0\.1:\d+\n/);
  assert.match(r.stdout, /health\s+ready \(store open, listeners up\)/);
  const j = await wharf(['status', '--json', '--admin', admin]);
  assert.is(j.code, 0);
  const s = JSON.parse(j.stdout);
  assert.is(s.health.ready, true);
  assert.equal(s.listeners.map((l: { port: number }) => l.port).sort(), [broker.port, broker.wsPort].sort());
});

test('queues create with a composite last-value key (key=[...]): one value per device and command type', async () => {
  const created = await wharf(['queues', 'create', 'cmds', 'topicFilter=cmd/+/set', 'type=lastvalue', 'key=[topicLevel:1,userProperty:command_type]', '--admin', admin]);
  assert.is(created.code, 0, created.stderr);
  const pub = await connectClient(broker.url, { clientId: 'e2e-cmd-pub', protocolVersion: 5 });
  clients.push(pub);
  const send = (device: string, colour: string) =>
    pub.publishAsync(`cmd/${device}/set`, colour, { qos: 1, properties: { userProperties: { command_type: 'set-color' } } });
  await send('d-17', 'blue');
  await send('d-18', 'red');
  await send('d-17', 'green');
  const json = JSON.parse((await wharf(['queues', 'show', 'cmds', '--json', '--admin', admin])).stdout);
  assert.equal(json.key ?? json.definition?.key ?? json.settings?.key, ['topicLevel:1', 'userProperty:command_type']);
  assert.is(json.depth, 2, "d-17's green replaced its blue; d-18's red is kept apart");
});

test('queues: create, table with depth, show, peek, purge, delete', async () => {
  const created = await wharf(['queues', 'create', 'jobs', 'topicFilter=jobs/#', 'maxMessages=100', 'retention=1h', '--admin', admin]);
  assert.is(created.code, 0, created.stderr);
  assert.is(created.stdout, 'created queue jobs (topic filter jobs/#; consume with $queue/jobs)\n');
  const pub = await connectClient(broker.url, { clientId: 'e2e-pub' });
  clients.push(pub);
  for (let i = 0; i < 5; i++) await pub.publishAsync(`jobs/${i}`, `job number ${i}`, { qos: 1 });

  const list = await wharf(['queues', '--admin', admin]);
  assert.is(list.code, 0, list.stderr);
  const t = rows(list.stdout);
  assert.equal(t[0], ['NAME', 'TYPE', 'DEPTH', 'BYTES', 'INFLIGHT', 'CONSUMERS', 'OLDEST', 'IN/S', 'ACK/S']);
  const jobs = t.find((r) => r[0] === 'jobs')!;
  assert.equal(jobs.slice(0, 6), ['jobs', 'standard', '5', '60 B', '0', '0']);
  assert.match(jobs[6]!, /^\d+(\.\d)?(ms|s)$/, 'oldest age');

  const json = JSON.parse((await wharf(['queues', '--json', '--admin', admin])).stdout);
  assert.is(json.queues.find((q: { name: string }) => q.name === 'jobs').depth, 5);

  const show = await wharf(['queues', 'show', 'jobs', '--admin', admin]);
  assert.is(show.code, 0);
  assert.match(show.stdout, /depth\s+5 messages, 60 B; 0 in flight/);
  assert.match(show.stdout, /maxMessages=100/);
  assert.match(show.stdout, /retention=1h/);

  const peek = await wharf(['queues', 'peek', 'jobs', '-n', '2', '--admin', admin]);
  assert.is(peek.code, 0, peek.stderr);
  const p = rows(peek.stdout);
  assert.equal(p[0], ['SEQ', 'AGE', 'DELIVERIES', 'INFLIGHT', 'TOPIC', 'PAYLOAD']);
  assert.equal([p[1]![3], p[1]![4]], ['jobs/0', 'job number 0']);
  assert.equal([p[2]![3], p[2]![4]], ['jobs/1', 'job number 1']);
  assert.is(p[3]![0], '(2 of 5)');

  const purge = await wharf(['queues', 'purge', 'jobs', '--admin', admin]);
  assert.is(purge.code, 0, purge.stderr);
  assert.is(purge.stdout, 'purged 5 messages from jobs\n');
  assert.is(purge.stderr, '', 'no progress line when stderr is not a terminal');

  const del = await wharf(['queues', 'delete', 'jobs', '--admin', admin]);
  assert.is(del.code, 0);
  assert.is(del.stdout, 'deleted queue jobs with 0 messages\n');
});

test('clients lists a connected client; disconnect closes it', async () => {
  const c = await connectClient(broker.url, { clientId: 'e2e-sensor' });
  clients.push(c);
  const list = await wharf(['clients', '--admin', admin]);
  assert.is(list.code, 0);
  const row = rows(list.stdout).find((r) => r[0] === 'e2e-sensor');
  assert.ok(row !== undefined, list.stdout);
  assert.match(row![1]!, /^127\.0\.0\.1:\d+$/);
  const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
  const d = await wharf(['clients', 'disconnect', 'e2e-sensor', '--admin', admin]);
  assert.is(d.code, 0, d.stderr);
  assert.is(d.stdout, 'disconnected e2e-sensor\n');
  await closed;
});

test('exit codes: 2 usage, 3 not found, 4 refused input, 5 unreachable', async () => {
  const usage = await wharf(['queues', 'frobnicate', '--admin', admin]);
  assert.is(usage.code, 2);
  assert.match(usage.stderr, /unknown action "frobnicate" for queues/);
  const missing = await wharf(['queues', 'show', 'nope', '--admin', admin]);
  assert.is(missing.code, 3);
  assert.is(missing.stderr, 'wharf: no queue named "nope"\n');
  assert.is((await wharf(['clients', 'disconnect', 'nobody', '--admin', admin])).code, 3);
  const invalid = await wharf(['queues', 'create', 'bad', 'topicFilter=a/#/b', 'consumerInflight=0', '--admin', admin]);
  assert.is(invalid.code, 4);
  assert.match(invalid.stderr, /topicFilter: must be a valid MQTT topic filter/);
  assert.match(invalid.stderr, /consumerInflight: must be an integer 1-65535; got 0/);
  await wharf(['queues', 'create', 'twice', 'topicFilter=twice/#', '--admin', admin]);
  const conflict = await wharf(['queues', 'create', 'twice', 'topicFilter=twice/#', '--admin', admin]);
  assert.is(conflict.code, 4);
  assert.is(conflict.stderr, 'wharf: a queue named "twice" already exists\n');
  const nobody = await wharf(['status', '--admin', `127.0.0.1:${await freePort()}`]);
  assert.is(nobody.code, 5);
  assert.match(nobody.stderr, /cannot reach the admin API at 127\.0\.0\.1:\d+: connection refused/);
  const viaEnv = await wharf(['queues', 'show', 'nope'], { WHARF_ADMIN: admin });
  assert.is(viaEnv.code, 3, 'WHARF_ADMIN names the address');
});

test('a broker with admin.token: 6 without or with a wrong token, 0 with --token or WHARF_ADMIN_TOKEN', async () => {
  const secured = Workspace.create(undefined, `admin:\n  token: ${TOKEN}\n`);
  const b = await secured.start();
  try {
    const a = `127.0.0.1:${b.adminPort}`;
    const none = await wharf(['status', '--admin', a]);
    assert.is(none.code, 6);
    assert.is(none.stderr, 'wharf: missing or wrong bearer token (Authorization: Bearer <admin.token>)\n');
    assert.is((await wharf(['status', '--admin', a, '--token', 'wrong-token-0123456789'])).code, 6);
    assert.is((await wharf(['status', '--admin', a, '--token', TOKEN])).code, 0);
    assert.is((await wharf(['queues', '--admin', a], { WHARF_ADMIN_TOKEN: TOKEN })).code, 0);
  } finally {
    await b.stop();
    await secured.dispose();
  }
});

test('wharf start refuses an admin API off loopback without a token: exit 2 and the reason', async () => {
  const w = Workspace.create();
  try {
    const args = [...w.args(await freePort(), await freePort()), '--admin', `0.0.0.0:${await freePort()}`];
    const r = await wharf(args);
    assert.is(r.code, 2);
    assert.match(r.stderr, /admin\.token: required because --admin \(0\.0\.0\.0:\d+\) is not a loopback address/);
  } finally {
    await w.dispose();
  }
});

test('wharf start with its admin port taken exits 4 naming admin.listen, and leaves nothing listening', async () => {
  const w = Workspace.create();
  try {
    const port = await freePort();
    const r = await wharf(w.args(port, await freePort(), undefined, broker.adminPort));
    assert.is(r.code, 4);
    assert.match(r.stderr, new RegExp(`cannot start admin\\.listen \\(admin on 127\\.0\\.0\\.1:${broker.adminPort}\\): the port is already in use`));
    assert.is(await portAccepts(port), false, 'the MQTT listener was closed again');
  } finally {
    await w.dispose();
  }
});

test.run();
