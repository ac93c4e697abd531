// Board profiles size the V8 heap (boards/*.json `node`, issue 13): the section is validated, `wharf start` reaches
// the broker process with the flags (its heap limit, read by the broker itself, says so), an operator's own flag
// wins, and the parent started for the flags keeps the stop signals and exit codes of `wharf start`.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadBoard, nodeFlagsOf } from '../../src/config/boards.js';
import { readFileSync } from 'node:fs';
import { COMMON_NODE_FLAGS, EMBEDDED_NODE_FLAGS, missingNodeFlags, operatorNodeFlags } from '../../src/cli/node-flags.js';
import { EMBEDDED_MALLOC_ENV } from '../../src/cli/malloc-env.js';
import { Workspace, type Exit, type WharfProcess } from '../helpers/broker-process.js';

const test = suite('board node settings: validated, applied to the broker process, signals and exit codes kept');

/** rpi-zero-2w's node section (boards/rpi-zero-2w.json). */
const ZERO_OLD_MB = 128;
const ZERO_SEMI_MB = 1;
/** heap_size_limit is the old space plus the young generation (three semi-spaces in V8 11) and a little more. */
const YOUNG_MAX_MB = 3 * ZERO_SEMI_MB + 4;

function withBoardsDir(profiles: Record<string, unknown>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-boards-'));
  try {
    for (const [name, body] of Object.entries(profiles)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(body));
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a node section is read into flags; a wrong value or key names the profile and the key', () => {
  withBoardsDir(
    {
      good: { description: 'd', config: {}, node: { maxOldSpaceMb: 96, maxSemiSpaceMb: 1 } },
      none: { description: 'd', config: {} },
      small: { description: 'd', config: {}, node: { maxOldSpaceMb: 8 } },
      typo: { description: 'd', config: {}, node: { maxOldSpaceMB: 96 } },
      list: { description: 'd', config: {}, node: [96] },
    },
    (dir) => {
      const errors: string[] = [];
      assert.equal(nodeFlagsOf(loadBoard('good', errors, dir)!.node), ['--max-old-space-size=96', '--max-semi-space-size=1']);
      assert.equal(nodeFlagsOf(loadBoard('none', errors, dir)!.node), []);
      assert.equal(errors, []);
      assert.is(loadBoard('small', errors, dir), undefined);
      assert.is(loadBoard('typo', errors, dir), undefined);
      assert.is(loadBoard('list', errors, dir), undefined);
      assert.equal(errors, [
        'board: profile small node.maxOldSpaceMb: must be an integer 64-65536; got 8',
        'board: profile typo node.maxOldSpaceMB: unknown key (allowed: maxOldSpaceMb, maxSemiSpaceMb)',
        'board: profile list node: expected a mapping with keys maxOldSpaceMb, maxSemiSpaceMb; got a list',
      ]);
    },
  );
});

test('every shipped profile has a valid node section', () => {
  for (const name of ['rpi-zero-2w', 'rpi4', 'rpi5', 'cm4-emmc']) {
    const errors: string[] = [];
    const profile = loadBoard(name, errors);
    assert.equal(errors, [], name);
    assert.is(nodeFlagsOf(profile!.node).length, 2, `${name} sets both`);
  }
});

test('a flag given on the command line or in NODE_OPTIONS wins over the board, in either spelling', () => {
  const wanted = ['--max-old-space-size=128', '--max-semi-space-size=2'];
  assert.equal(missingNodeFlags(wanted, [], ''), wanted);
  assert.equal(missingNodeFlags(wanted, ['--max_old_space_size=300'], ''), ['--max-semi-space-size=2']);
  assert.equal(missingNodeFlags(wanted, ['--inspect'], '--max-semi-space-size=8  --max-old-space-size=64'), []);
  assert.equal(missingNodeFlags(wanted, [], '--max-semi-space-size-extra=1'), wanted);
});

test('a boolean flag counts as given in its --no- form and in its plain form', () => {
  assert.equal(missingNodeFlags(['--no-concurrent-recompilation'], ['--concurrent-recompilation'], ''), []);
  assert.equal(missingNodeFlags(['--no-concurrent-recompilation'], [], '--no-concurrent-recompilation'), []);
  assert.equal(missingNodeFlags(['--no-concurrent-recompilation'], ['--no-opt'], ''), ['--no-concurrent-recompilation']);
});

test('npm start (the embedded default) runs node with the embedded flags, which include the common ones', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } };
  // The malloc settings come first (test/cli/malloc-env.test.ts), then node and its flags.
  const args = pkg.scripts.start.split(/\s+/).filter((w) => !/^[A-Z_]+=/.test(w));
  assert.equal(args.slice(0, 1 + EMBEDDED_NODE_FLAGS.length), ['node', ...EMBEDDED_NODE_FLAGS]);
  assert.equal(args.slice(1 + EMBEDDED_NODE_FLAGS.length), ['dist/src/cli/main.js', 'start']);
  for (const f of COMMON_NODE_FLAGS) assert.ok(EMBEDDED_NODE_FLAGS.includes(f), f);
});

/** The fields of the broker's `starting` log line (logfmt: key=value). */
function startingLine(p: WharfProcess): Record<string, string> {
  const line = p.output().split('\n').find((l) => / info starting /.test(l));
  if (line === undefined) throw new Error(`no "starting" line in:\n${p.output()}`);
  return Object.fromEntries([...line.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

/** Brokers started by a test; killed at its end should one outlive its parent (a regression would leave it running). */
const brokerPids: number[] = [];

async function withBoard(fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = Workspace.create(undefined, 'board: rpi-zero-2w\n');
  try {
    await fn(ws);
  } finally {
    for (const pid of brokerPids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await ws.dispose();
  }
}

/** The broker's pid from its `starting` line, registered for the clean-up. */
function brokerPid(p: WharfProcess): number {
  const pid = Number(startingLine(p).pid);
  brokerPids.push(pid);
  return pid;
}

/** The parent's exit; its stdio closes only with the broker's, so a broker left running would hang: bounded. */
function exitWithin(p: WharfProcess, ms: number): Promise<Exit | 'timeout'> {
  return Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref())]);
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`wharf start with board rpi-zero-2w: the broker runs with its heap limit; ${signal} stops it cleanly with exit 0`, async () => {
    await withBoard(async (ws) => {
      const p = await ws.start({ logLevel: 'info' });
      const fields = startingLine(p);
      const heapLimitMb = Number(fields.heapLimitMb);
      assert.ok(heapLimitMb >= ZERO_OLD_MB && heapLimitMb <= ZERO_OLD_MB + YOUNG_MAX_MB, `heap limit ${heapLimitMb} MiB\n${p.output()}`);
      const pid = brokerPid(p);
      assert.is.not(pid, p.child.pid, 'started again with the flags, as a child');
      p.child.kill(signal);
      const exit = await exitWithin(p, 10_000);
      assert.equal(exit, { code: 0, signal: null }, p.output());
      assert.match(p.output(), new RegExp(`shutting down signal=${signal}`));
      assert.match(p.output(), / info stopped/);
      assert.ok(await gone(pid, 5000), 'the broker process ended with its parent');
    });
  });
}

test('the broker child started for the board gets the malloc settings; an operator value in the environment wins', async () => {
  await withBoard(async (ws) => {
    const p = await ws.start({ logLevel: 'info', env: { MALLOC_ARENA_MAX: '3' } });
    const pid = brokerPid(p);
    assert.is.not(pid, p.child.pid, 'started again with the board flags, as a child');
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    assert.ok(environ.includes('MALLOC_ARENA_MAX=3'), environ.join(' '));
    assert.ok(environ.includes(`MALLOC_MMAP_THRESHOLD_=${EMBEDDED_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_}`), environ.join(' '));
    p.child.kill('SIGTERM');
    assert.equal(await exitWithin(p, 10_000), { code: 0, signal: null });
  });
});

test("npm start's embedded flags give way to the board: rpi-zero-2w's old space, not the embedded 256 MiB", async () => {
  await withBoard(async (ws) => {
    const p = await ws.start({ logLevel: 'info', nodeArgs: [...EMBEDDED_NODE_FLAGS] });
    const pid = brokerPid(p);
    assert.is.not(pid, p.child.pid, 'started again with the board flags, as a child');
    const heapLimitMb = Number(startingLine(p).heapLimitMb);
    assert.ok(heapLimitMb >= ZERO_OLD_MB && heapLimitMb <= ZERO_OLD_MB + YOUNG_MAX_MB, `heap limit ${heapLimitMb} MiB\n${p.output()}`);
    p.child.kill('SIGTERM');
    assert.equal(await exitWithin(p, 10_000), { code: 0, signal: null });
  });
});

test('a value of the embedded default is not an operator choice; other command-line flags are', () => {
  assert.equal(operatorNodeFlags([...EMBEDDED_NODE_FLAGS, '--max-old-space-size=300', '--inspect']), ['--max-old-space-size=300', '--inspect']);
});

test('an operator flag in NODE_OPTIONS wins: the broker keeps its old-space size', async () => {
  await withBoard(async (ws) => {
    const saved = process.env.NODE_OPTIONS;
    process.env.NODE_OPTIONS = '--max-old-space-size=200';
    let p: WharfProcess;
    try {
      p = await ws.start({ logLevel: 'info' });
    } finally {
      if (saved === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = saved;
    }
    brokerPid(p);
    const heapLimitMb = Number(startingLine(p).heapLimitMb);
    assert.ok(heapLimitMb >= 200 && heapLimitMb <= 200 + YOUNG_MAX_MB, `heap limit ${heapLimitMb} MiB\n${p.output()}`);
    p.child.kill('SIGTERM');
    assert.equal(await exitWithin(p, 10_000), { code: 0, signal: null });
  });
});

test('the broker stops when the parent started for the flags is killed (SIGKILL)', async () => {
  await withBoard(async (ws) => {
    const p = await ws.start({ logLevel: 'info' });
    const pid = brokerPid(p);
    assert.ok(alive(pid));
    p.child.kill('SIGKILL');
    assert.ok(await gone(pid, 8000), `broker ${pid} still running after its parent was killed`);
  });
});

test("the child's exit code passes through the parent: an unusable data directory is exit 3", async () => {
  await withBoard(async (ws) => {
    const r = await ws.run(15_000, { dataDir: '/proc/wharf-cannot-be-here' });
    assert.is(r.timedOut, false, r.output);
    assert.is(r.code, 3, r.output);
  });
});

test.run();
