// Benchmark runs as the table shows them (scripts/bench/run-medians.ts, cpu-times.ts; issue 13): `run.js --runs N`
// gives each metric's median over the runs, and every scenario carries the share of CPU time the hypervisor took,
// so that a run in one of the host's slow phases is recognised as such.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuTimes, stealPercent } from '../../scripts/bench/cpu-times.js';
import { mergeRuns, type Cell } from '../../scripts/bench/run-medians.js';
import type { Metric } from '../../scripts/bench/scenarios.js';

const test = suite('bench: medians of several runs, CPU steal');

const metric = (key: string, value: number | null): Metric => ({ key, label: key, unit: 'msg/s', value, better: 'higher', digits: 0 });
const run = (rate: number | null, notes: string[] = []): Cell => ({ ok: true, result: { metrics: [metric('rate', rate), metric('other', 1)], notes, raw: { rate } } });

test('one run is shown as it is', () => {
  const cell = run(5);
  assert.is(mergeRuns([cell]), cell);
});

test('each metric is the median of the runs that gave it a value; the runs stay in raw', () => {
  const merged = mergeRuns([run(30), run(10), run(20)]);
  assert.ok(merged.ok);
  if (!merged.ok) return;
  assert.is(merged.result.metrics.find((m) => m.key === 'rate')!.value, 20);
  assert.equal((merged.result.raw.runs as { metrics: Record<string, number> }[]).map((r) => r.metrics.rate), [30, 10, 20]);
  const even = mergeRuns([run(10), run(null), run(40), run(20)]);
  assert.ok(even.ok && even.result.metrics[0]!.value === 20, 'the null run is left out: the median of 10, 40 and 20');
  const two = mergeRuns([run(10), run(40)]);
  assert.ok(two.ok && two.result.metrics[0]!.value === 25);
  const none = mergeRuns([run(null), run(null)]);
  assert.ok(none.ok && none.result.metrics[0]!.value === null);
});

test('notes come once each; a failed run is named, and only failures give an error', () => {
  const merged = mergeRuns([run(1, ['slow disk', 'steal 9 %']), { ok: false, error: 'broker exited' }, run(3, ['slow disk'])]);
  assert.ok(merged.ok);
  if (!merged.ok) return;
  assert.is(merged.result.metrics[0]!.value, 2);
  assert.is(merged.result.notes.filter((n) => n === 'slow disk').length, 1, 'a note of every run that worked, once and as it is');
  assert.ok(merged.result.notes.includes('run 1: steal 9 %'), 'a note of some runs names them');
  assert.ok(merged.result.notes.some((n) => n.includes('medians of 2 runs') && n.includes('run 2 of 3 failed: broker exited')), merged.result.notes.join(' | '));
  const failed = mergeRuns([{ ok: false, error: 'a' }, { ok: false, error: 'b' }]);
  assert.equal(failed, { ok: false, error: 'run 1 of 2 failed: a; run 2 of 2 failed: b' });
});

test('steal is the share of the CPU time between two readings the hypervisor took', () => {
  assert.is(stealPercent({ total: 1000, busy: 300, steal: 10 }, { total: 1200, busy: 400, steal: 60 }), 25);
  assert.is(stealPercent(undefined, { total: 1, busy: 0, steal: 0 }), null);
  assert.is(stealPercent({ total: 5, busy: 0, steal: 0 }, { total: 5, busy: 0, steal: 0 }), null);
  // This machine's own /proc/stat (Linux): busy and steal within the total, and counting up.
  const a = cpuTimes();
  assert.ok(a !== undefined, '/proc/stat has a cpu line');
  assert.ok(a.busy <= a.total && a.steal <= a.busy && a.total > 0);
  const b = cpuTimes()!;
  assert.ok(b.total >= a.total && b.steal >= a.steal);
});

test.run();
