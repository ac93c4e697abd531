// The glibc malloc settings of every broker process (src/cli/malloc-env.ts, issue 14): npm start and the launcher
// give them through the shell, keeping an operator's own value; `wharf start`'s board child gets them too.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EMBEDDED_MALLOC_ENV, mallocShellAssignments, withMallocDefaults } from '../../src/cli/malloc-env.js';

const test = suite('malloc settings: set for every broker process, an operator value wins');

test('the defaults fill in what the environment lacks and keep what it has', () => {
  const env = withMallocDefaults({ PATH: '/bin', MALLOC_ARENA_MAX: '4', MALLOC_MMAP_THRESHOLD_: '' });
  assert.is(env.PATH, '/bin');
  assert.is(env.MALLOC_ARENA_MAX, '4');
  assert.is(env.MALLOC_MMAP_THRESHOLD_, EMBEDDED_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_);
  assert.equal(Object.keys(EMBEDDED_MALLOC_ENV).sort(), ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_']);
});

/** What a node started by `sh -c "<assignments> node ..."` sees of the malloc variables, from a given environment. */
function seenThroughShell(env: Record<string, string>): Record<string, string | undefined> {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, ...env };
  const script = `${mallocShellAssignments()} "${process.execPath}" -e 'console.log(JSON.stringify({a: process.env.MALLOC_ARENA_MAX, m: process.env.MALLOC_MMAP_THRESHOLD_}))'`;
  const out = JSON.parse(execFileSync('sh', ['-c', script], { env: base, encoding: 'utf8' })) as { a?: string; m?: string };
  return { MALLOC_ARENA_MAX: out.a, MALLOC_MMAP_THRESHOLD_: out.m };
}

test('through the shell (npm start, the launcher): the defaults, or the operator value', () => {
  assert.equal(seenThroughShell({}), { ...EMBEDDED_MALLOC_ENV });
  assert.equal(seenThroughShell({ MALLOC_ARENA_MAX: '8' }), { ...EMBEDDED_MALLOC_ENV, MALLOC_ARENA_MAX: '8' });
});

test('npm start gives them before node', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  assert.ok(pkg.scripts.start.startsWith(`${mallocShellAssignments()} node `), pkg.scripts.start);
});

test.run();
