// The client commands in-process against a broker with its admin API: purge progress on a terminal (and none
// when not on one), table output, and the argument parser of the client commands.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../src/cli/args.js';
import { runClient } from '../../src/cli/client.js';
import type { ClientArgs } from '../../src/cli/client-args.js';
import type { CommandIo } from '../../src/cli/commands/io.js';
import { age, table } from '../../src/cli/format.js';
import { startAdminBroker, type AdminBroker } from '../helpers/admin.js';
import { connectClient, endClient } from '../helpers/mqttjs.js';

const test = suite('cli: client commands');
const HINT = '; run "wharf --help" for usage';

function capture(tty: boolean) {
  const out: string[] = [];
  const progress: string[] = [];
  const errors: string[] = [];
  const io: CommandIo = { out: (t) => out.push(t), progress: (t) => progress.push(t), progressTty: tty };
  return { io, out, progress, errors, writeError: (t: string) => errors.push(t) };
}

function args(argv: string[]): ClientArgs {
  const a = parseArgs(argv);
  if (a.command !== 'client') throw new Error(`not a client command: ${JSON.stringify(a)}`);
  return a;
}

async function brokerWithBacklog(n: number): Promise<AdminBroker> {
  const tb = await startAdminBroker((c) => (c.queues.definitions = [{ ...c.queues.defaults, name: 'big', topicFilter: 'big/#' }]));
  const pub = await connectClient(tb.url, { clientId: 'backlog-pub' });
  for (let at = 0; at < n; at += 200) await Promise.all(Array.from({ length: Math.min(200, n - at) }, (_, i) => pub.publishAsync('big/x', `m${at + i}`, { qos: 1 })));
  await endClient(pub);
  return tb;
}

test('purge on a terminal redraws one progress line, then clears it', async () => {
  const tb = await brokerWithBacklog(1200);
  try {
    const c = capture(true);
    const code = await runClient(args(['queues', 'purge', 'big', '--admin', `127.0.0.1:${tb.monitoring.adminAddress!.port}`]), c.io, c.writeError);
    assert.is(code, 0, c.errors.join(''));
    assert.equal(c.out, ['purged 1200 messages from big\n']);
    assert.ok(c.progress.length >= 2, `progress written: ${JSON.stringify(c.progress)}`);
    assert.match(c.progress[0]!, /^\rpurging big: \d+ removed, about \d+ left $/);
    assert.is(c.progress[c.progress.length - 1], '\r\x1b[K');
  } finally {
    await tb.stop();
  }
});

test('purge off a terminal writes no progress, and --json prints the result object', async () => {
  const tb = await brokerWithBacklog(300);
  try {
    const c = capture(false);
    const code = await runClient(args(['queues', 'purge', 'big', '--json', '--admin', `127.0.0.1:${tb.monitoring.adminAddress!.port}`]), c.io, c.writeError);
    assert.is(code, 0);
    assert.equal(c.progress, []);
    assert.equal(JSON.parse(c.out.join('')), { queue: 'big', purged: 300, remaining: 0, inflight: 0, done: true });
  } finally {
    await tb.stop();
  }
});

test('clients, sessions and retained print tables and details; not found is exit 3', async () => {
  const tb = await startAdminBroker();
  const sensor = await connectClient(tb.url, { clientId: 'sensor-7', clean: false, properties: { sessionExpiryInterval: 600 } });
  try {
    await sensor.subscribeAsync('site/cmd/#', { qos: 1 });
    await sensor.publishAsync('site/state', 'online', { qos: 1, retain: true });
    const admin = `127.0.0.1:${tb.monitoring.adminAddress!.port}`;
    const run = async (argv: string[]) => {
      const c = capture(false);
      const code = await runClient(args([...argv, '--admin', admin]), c.io, c.writeError);
      return { code, out: c.out.join(''), err: c.errors.join('') };
    };
    const clients = await run(['clients']);
    assert.is(clients.code, 0);
    assert.match(clients.out, /^CLIENT ID\s+REMOTE\s+PROTOCOL\s+CONNECTED FOR\s+SUBS\s+INFLIGHT\s+QUEUED\nsensor-7\s+127\.0\.0\.1:\d+\s+5\.0\s+\S+\s+1\s+0\s+0\n$/);
    const show = await run(['clients', 'show', 'sensor-7']);
    assert.match(show.out, /  clientId: sensor-7\n/);
    assert.match(show.out, /site\/cmd\/#\s+1/);
    const sessions = await run(['sessions']);
    assert.match(sessions.out, /sensor-7\s+yes\s+5\.0\s+600s\s+1/);
    const retained = await run(['retained', '--filter', 'site/#']);
    assert.match(retained.out, /^TOPIC\s+QOS\s+BYTES\s+PAYLOAD\nsite\/state\s+1\s+6\s+online\n$/);
    assert.equal(await run(['retained', 'delete', 'site/state']), { code: 0, out: 'deleted the retained message of site/state\n', err: '' });
    assert.equal(await run(['retained', 'delete', 'site/state']), { code: 3, out: '', err: 'wharf: no retained message on topic "site/state"\n' });
    assert.equal(await run(['sessions', 'delete', 'sensor-7']), { code: 0, out: 'deleted session sensor-7\n', err: '' });
    assert.is((await run(['sessions', 'show', 'sensor-7'])).code, 3);
  } finally {
    await endClient(sensor, true);
    await tb.stop();
  }
});

test('client command arguments: actions, targets, settings typed as in YAML, options', () => {
  assert.equal(parseArgs(['queues']), { command: 'client', resource: 'queues', action: 'list', settings: {}, json: false });
  assert.equal(parseArgs(['queues', 'create', 'orders', 'topicFilter=orders/#', 'maxMessages=100', 'retention=7d', 'deadLetter=null', '--json', '--admin', '10.0.0.2:18083', '--token=abc']), {
    command: 'client',
    resource: 'queues',
    action: 'create',
    target: 'orders',
    settings: { topicFilter: 'orders/#', maxMessages: 100, retention: '7d', deadLetter: null },
    json: true,
    admin: '10.0.0.2:18083',
    token: 'abc',
  });
  assert.equal(parseArgs(['queues', 'create', 'cmds', 'type=lastvalue', 'key=[topicLevel:1, userProperty:command_type]']), {
    command: 'client',
    resource: 'queues',
    action: 'create',
    target: 'cmds',
    settings: { type: 'lastvalue', key: ['topicLevel:1', 'userProperty:command_type'] },
    json: false,
  });
  assert.equal(parseArgs(['queues', 'peek', 'jobs', '-n', '5']), { command: 'client', resource: 'queues', action: 'peek', target: 'jobs', settings: {}, json: false, limit: 5 });
  assert.equal(parseArgs(['status', '--json']), { command: 'client', resource: 'status', action: 'show', settings: {}, json: true });
  assert.equal(parseArgs(['clients', 'disconnect', 'sensor-1']), { command: 'client', resource: 'clients', action: 'disconnect', target: 'sensor-1', settings: {}, json: false });
  assert.equal(parseArgs(['queues', 'frobnicate']), { command: 'error', message: `unknown action "frobnicate" for queues (actions: list, show, create, update, delete, purge, peek)${HINT}` });
  assert.equal(parseArgs(['queues', 'show']), { command: 'error', message: `queues show needs a queue name${HINT}` });
  assert.equal(parseArgs(['queues', 'show', 'a', 'b=1']), { command: 'error', message: `unexpected argument "b=1"${HINT}` });
  assert.equal(parseArgs(['queues', '--verbose']), { command: 'error', message: `unknown option "--verbose"${HINT}` });
  assert.equal(parseArgs(['queues', 'peek', 'q', '-n', '0']), { command: 'error', message: `option -n needs a positive integer${HINT}` });
  assert.equal(parseArgs(['start', '--admin', '127.0.0.1:9999']), { command: 'start', admin: '127.0.0.1:9999' });
});

test('tables align columns and ages read like durations', () => {
  assert.is(table(['NAME', 'DEPTH'], [['a', '5'], ['longer', '12345']], new Set([1])), 'NAME    DEPTH\na           5\nlonger  12345\n');
  assert.equal([age(0), age(450), age(1500), age(95_000), age(7_260_000), age(90_000_000)], ['-', '450ms', '1.5s', '1m35s', '2h1m', '1d1h']);
});

test.run();
