// The compacting GC once the broker is quiet after its heap grew (src/cli/quiet-heap.ts, issue 13): the rule on
// made-up ticks, and the timer in a child process whose old space grew with garbage.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GROWTH_BYTES, QUIET_TICKS, QuietCompactionRule, TICK_MS } from '../../src/cli/quiet-heap.js';

const test = suite('cli: heap compacted when quiet after growth');
const MODULE = fileURLToPath(new URL('../../src/cli/quiet-heap.js', import.meta.url));
const MiB = 1024 * 1024;

const quiet = (physicalBytes: number) => ({ physicalBytes, cpuMicros: 1_000, elapsedMs: TICK_MS });
const busy = (physicalBytes: number) => ({ physicalBytes, cpuMicros: 500_000, elapsedMs: TICK_MS });

/** The tick (1-based) on which the rule first asks for a compaction, or 0 if none of `ticks` does. */
function firstDue(rule: QuietCompactionRule, ticks: Array<ReturnType<typeof quiet>>): number {
  for (let i = 0; i < ticks.length; i++) if (rule.tick(ticks[i]!)) return i + 1;
  return 0;
}

test('a grown heap is compacted after QUIET_TICKS quiet ticks, not before', () => {
  const rule = new QuietCompactionRule(20 * MiB);
  const grown = 20 * MiB + GROWTH_BYTES;
  assert.is(firstDue(rule, [busy(grown), busy(grown), ...Array.from({ length: QUIET_TICKS + 2 }, () => quiet(grown))]), 2 + QUIET_TICKS);
});

test('a busy tick starts the quiet count again; a busy broker is never compacted', () => {
  const grown = 20 * MiB + 2 * GROWTH_BYTES;
  const interrupted = [...Array.from({ length: QUIET_TICKS - 1 }, () => quiet(grown)), busy(grown), ...Array.from({ length: QUIET_TICKS }, () => quiet(grown))];
  assert.is(firstDue(new QuietCompactionRule(20 * MiB), interrupted), 2 * QUIET_TICKS);
  assert.is(firstDue(new QuietCompactionRule(20 * MiB), Array.from({ length: 50 }, () => busy(grown))), 0);
});

test('growth is measured from the lowest heap since the last compaction; less than GROWTH_BYTES is left alone', () => {
  const rule = new QuietCompactionRule(30 * MiB);
  // V8's own memory reducer shrank the heap to 20 MiB: growth from there counts.
  assert.is(firstDue(rule, Array.from({ length: QUIET_TICKS }, () => quiet(20 * MiB))), 0);
  assert.is(firstDue(rule, Array.from({ length: 3 * QUIET_TICKS }, () => quiet(20 * MiB + GROWTH_BYTES - 1))), 0);
  assert.is(firstDue(rule, Array.from({ length: QUIET_TICKS }, () => quiet(20 * MiB + GROWTH_BYTES))), 1);
});

test('after a compaction its result is the new baseline: a heap that stays big costs one GC', () => {
  const rule = new QuietCompactionRule(20 * MiB);
  const big = 20 * MiB + 3 * GROWTH_BYTES;
  assert.ok(firstDue(rule, Array.from({ length: QUIET_TICKS }, () => quiet(big))) > 0);
  rule.compacted(big - MiB); // live data, not garbage
  assert.is(firstDue(rule, Array.from({ length: 5 * QUIET_TICKS }, () => quiet(big))), 0);
});

test('in a process: old space grown with garbage is given back once it is quiet', () => {
  // Bounded: the child exits after 30 s whatever happens; the assertion is on sizes, not on time.
  const script = `
    import v8 from 'node:v8';
    const { startQuietCompaction } = await import(${JSON.stringify(MODULE)});
    const oldSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size;
    startQuietCompaction((before, after) => {
      console.log(JSON.stringify({ grown, compacted: oldSpace(), before, after, kept: keep.length }));
      process.exit(0);
    });
    const keep = [];
    for (let i = 0; i < 600000; i++) { const o = { i, s: 'x' + i }; if (i % 16 === 0) keep.push(o); }
    const grown = oldSpace();
    setTimeout(() => { console.log('{"timedOut":true}'); process.exit(0); }, 30000);`;
  const r = spawnSync(process.execPath, ['--max-semi-space-size=1', '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { timedOut?: boolean; grown: number; compacted: number; before: number; after: number };
  assert.is(out.timedOut, undefined, 'no compaction within 30 s');
  assert.ok(out.compacted < out.grown, `old space ${out.grown} -> ${out.compacted} B`);
  assert.ok(out.after < out.before, `physical heap ${out.before} -> ${out.after} B`);
});

test.run();
