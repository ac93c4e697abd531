// V8's optimisers are held while `wharf start` loads and given back once it runs (src/cli/startup-tiering.ts, issue
// 13). In a child process with --trace-opt, which shows each function TurboFan compiles.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { operatorSetsTiering } from '../../src/cli/startup-tiering.js';

const test = suite('cli: optimisers held during startup');
const MODULE = fileURLToPath(new URL('../../src/cli/startup-tiering.js', import.meta.url));

/** Runs a hot function while held, then another after the release; returns the names TurboFan compiled. */
function optimisedNames(): string[] {
  const script = `
    const { holdOptimisersDuringStartup } = await import(${JSON.stringify(MODULE)});
    const release = holdOptimisersDuringStartup();
    function whileHeld(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }
    for (let i = 0; i < 3000; i++) whileHeld(1000);
    release();
    function afterRelease(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 5; return s; }
    for (let i = 0; i < 3000; i++) afterRelease(1000);
    for (let i = 0; i < 3000; i++) whileHeld(1000);`;
  const r = spawnSync(process.execPath, ['--trace-opt', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.is(r.status, 0, r.stderr);
  const names = [...r.stdout.matchAll(/completed optimizing \S+ <JSFunction (\w+)/g)].map((m) => m[1]!);
  return [...new Set(names)].sort();
}

test('nothing is optimised while held; after the release new and warm functions are', () => {
  const r = spawnSync(process.execPath, ['--trace-opt', '--input-type=module', '-e', `
    const { holdOptimisersDuringStartup } = await import(${JSON.stringify(MODULE)});
    holdOptimisersDuringStartup();
    function whileHeld(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }
    for (let i = 0; i < 3000; i++) whileHeld(1000);`], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout, /completed optimizing/);
  assert.equal(optimisedNames(), ['afterRelease', 'whileHeld']);
});

test("an operator's tiering flag is left alone", () => {
  assert.is(operatorSetsTiering(['--no-turbofan'], ''), true);
  assert.is(operatorSetsTiering(['--max_opt=2'], ''), true);
  assert.is(operatorSetsTiering([], '--jitless --max-old-space-size=96'), true);
  assert.is(operatorSetsTiering(['--max-old-space-size=256', '--no-concurrent-recompilation'], '--max-semi-space-size=1'), false);
});

test.run();
