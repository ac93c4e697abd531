// `wharf boards`: every profile in boards/ with its serial ports and commit windows, as a table and as JSON.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runWharf } from '../helpers/broker-process.js';
import { listBoards } from '../../src/config/boards.js';

const test = suite('cli: wharf boards');

test('--json lists every profile with serialPorts, commitWindowMs and the device tree model', async () => {
  const r = await runWharf(['boards', '--json']);
  assert.is(r.code, 0, r.stderr);
  const boards = JSON.parse(r.stdout) as { name: string; serialPorts: string[]; commitWindowMs: Record<string, number>; deviceTreeModel: string | null }[];
  assert.equal(boards.map((b) => b.name), listBoards());
  const rpi4 = boards.find((b) => b.name === 'rpi4')!;
  assert.ok(rpi4.serialPorts.includes('/dev/serial0'));
  assert.is(rpi4.commitWindowMs.sd, 20);
  assert.match(rpi4.deviceTreeModel ?? '', /^Raspberry Pi 4/);
  for (const b of boards) assert.ok(Object.keys(b.commitWindowMs).length > 0, b.name);
});

test('the table has a row per board with its ports and windows; an unknown option exits 2', async () => {
  const r = await runWharf(['boards']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^rpi5\s+\/dev\/serial0 \/dev\/ttyAMA0 \/dev\/ttyAMA10\s+nvme 5, sd 20/m);
  assert.match(r.stdout, /^cm4-emmc\s.*emmc 10/m);
  assert.is((await runWharf(['boards', '--all'])).code, 2);
});

test.run();
