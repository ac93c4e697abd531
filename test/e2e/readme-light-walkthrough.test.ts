// End to end, issue 11: the README's smart-light walk-through works as written. Its YAML, its mosquitto_pub and
// mosquitto_sub lines and its expected output are read from README.md and run against a real `wharf` process
// (only the broker's host and port are added to each command, and a time limit to mosquitto_sub). A second test runs the README's
// many-devices queue (devices/+/commands with a composite key) through mosquitto_pub/mosquitto_sub.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { Workspace, type WharfProcess } from '../helpers/broker-process.js';
import { requireTool, run } from '../helpers/tools.js';

const test = suite('e2e README: the smart-light walk-through');
const withClients = requireTool(test, 'mosquitto_pub', 'mosquitto_sub');

const README = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

/** The text of the README section under `heading`, up to the next heading of level 2 or 3. */
function section(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has "${heading}"`);
  const rest = README.slice(start + heading.length + 2);
  const end = rest.search(/\n##+ /);
  return end < 0 ? rest : rest.slice(0, end);
}

function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

/** Runs a README command line through sh, with the broker's port (and for mosquitto_sub a time limit) added. */
async function shell(line: string, broker: WharfProcess): Promise<string> {
  const m = /^(mosquitto_pub|mosquitto_sub) /.exec(line);
  assert.ok(m, `a mosquitto command: ${line}`);
  const extra = m![1] === 'mosquitto_sub' ? ' -W 10' : '';
  const r = await run('sh', ['-c', line.replace(/^(\S+) /, `$1 -h 127.0.0.1 -p ${broker.port}${extra} `)], 15_000);
  assert.is(r.code, 0, `${line}: ${r.stderr}`);
  return r.stdout;
}

withClients('the walk-through as written: blue, red, green and a firmware update published offline; the light gets green and the update', async () => {
  const text = section('### Walk-through: a smart light that was offline');
  const [yaml] = blocks(text, 'yaml');
  const commands = blocks(text, 'sh').flatMap((b) => b.split('\n').filter((l) => l.trim() !== ''));
  const [expected] = blocks(text, 'text');
  assert.equal(commands.map((c) => c.split(' ')[0]), ['mosquitto_pub', 'mosquitto_pub', 'mosquitto_pub', 'mosquitto_pub', 'mosquitto_sub']);
  const ws = Workspace.create(undefined, yaml!);
  let broker: WharfProcess | undefined;
  try {
    broker = await ws.start();
    let out = '';
    for (const c of commands) out = await shell(c, broker);
    assert.is(out, expected);
    // Acknowledged: the light finds nothing more (the queue is empty).
    const depth = await (await fetch(`http://127.0.0.1:${broker.adminPort}/api/v1/queues/light-123-commands`)).json();
    assert.is((depth as { depth: number }).depth, 0);
  } finally {
    await broker?.crash();
    await ws.dispose();
  }
});

withClients("the README's devices/+/commands queue (composite key) keeps d-17's and d-18's set-color apart, and d-17's firmware update beside its set-color", async () => {
  const config = blocks(section('### Queues'), 'yaml').map((b) => parse(b) as { queues: { definitions: { topicFilter: string }[] } })[0]!;
  const commands = config.queues.definitions.find((d) => d.topicFilter === 'devices/+/commands');
  assert.ok(commands, 'the README declares devices/+/commands');
  const ws = Workspace.create(undefined, `queues:\n  definitions:\n    - ${JSON.stringify(commands)}\n`);
  let broker: WharfProcess | undefined;
  try {
    broker = await ws.start();
    const sent = [
      ['d-17', 'blue', 'set-color'],
      ['d-18', 'red', 'set-color'],
      ['d-17', 'green', 'set-color'],
      ['d-17', 'v2.4.1', 'update-firmware'],
    ];
    for (const [device, payload, type] of sent) {
      await shell(`mosquitto_pub -V mqttv5 -q 1 -t devices/${device}/commands -m ${payload} -D PUBLISH user-property command_type ${type}`, broker);
    }
    // One per device and command type: neither the device alone nor the command type alone would keep all three.
    const out = await shell(`mosquitto_sub -V mqttv5 -q 1 -i gateway -t '$queue/commands' -C 3 -F '%t %p'`, broker);
    assert.equal(out.trim().split('\n').sort(), ['devices/d-17/commands green', 'devices/d-17/commands v2.4.1', 'devices/d-18/commands red']);
  } finally {
    await broker?.crash();
    await ws.dispose();
  }
});

test.run();
