// src/cli/commands/doctor-args.ts and the wiring in parseArgs: doctor's and boards' options.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs } from '../../src/cli/args.js';

const test = suite('doctor: arguments');

test('defaults, --crash-test, --crash-rounds, --rate, --payload-bytes, --json, --config, --data', () => {
  assert.equal(parseArgs(['doctor']), { command: 'doctor', json: false, rate: 100, payloadBytes: 256, crashRounds: 0 });
  assert.is((parseArgs(['doctor', '--crash-test']) as { crashRounds: number }).crashRounds, 5);
  assert.is((parseArgs(['doctor', '--crash-rounds=12', '--crash-test']) as { crashRounds: number }).crashRounds, 12);
  assert.equal(parseArgs(['doctor', '--rate', '500', '--payload-bytes=1024', '--json', '-c', '/etc/wharf/wharf.yaml', '--data', '/var/lib/wharf']), {
    command: 'doctor', json: true, rate: 500, payloadBytes: 1024, crashRounds: 0, config: '/etc/wharf/wharf.yaml', data: '/var/lib/wharf',
  });
  // Options before the command, as for the other commands.
  assert.is((parseArgs(['--rate', '7', 'doctor']) as { rate: number }).rate, 7);
});

test('bad values and unknown options are usage errors naming the option', () => {
  for (const [argv, msg] of [
    [['doctor', '--crash-rounds', '0'], /--crash-rounds needs a positive integer up to 50/],
    [['doctor', '--crash-rounds', '51'], /up to 50/],
    [['doctor', '--rate', 'fast'], /--rate needs a positive integer/],
    [['doctor', '--data'], /--data needs a value/],
    [['doctor', '--port', '1'], /unknown option "--port" for doctor/],
    [['boards', '--all'], /unknown option "--all" for boards/],
  ] as const) {
    const r = parseArgs([...argv]);
    assert.is(r.command, 'error', argv.join(' '));
    assert.match((r as { message: string }).message, msg);
  }
  assert.equal(parseArgs(['boards', '--json']), { command: 'boards', json: true });
});

test.run();
