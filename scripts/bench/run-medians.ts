// Several runs of one scenario against one peer, as one result: each metric's median over the runs that gave
// it a value (the table's cell), the runs' values kept in `raw.runs` (the JSON), the runs' notes once each
// (with the runs they came from, unless all gave them).

import type { Metric, ScenarioResult } from './scenarios.js';

export type Cell = { ok: true; result: ScenarioResult } | { ok: false; error: string };

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Each note once: as it is if every run that worked gave it, else after the numbers of the runs that did. */
function runNotes(cells: readonly Cell[]): string[] {
  const runsOf = new Map<string, number[]>();
  cells.forEach((c, i) => {
    if (c.ok) for (const n of new Set(c.result.notes)) runsOf.set(n, [...(runsOf.get(n) ?? []), i + 1]);
  });
  const worked = cells.filter((c) => c.ok).length;
  return [...runsOf].map(([note, runs]) => (runs.length === worked ? note : `run ${runs.join(', ')}: ${note}`));
}

/** One run's cell as it is; several: medians of the runs that worked, a note for each that failed. */
export function mergeRuns(cells: readonly Cell[]): Cell {
  if (cells.length === 1) return cells[0]!;
  const ok = cells.flatMap((c) => (c.ok ? [c.result] : []));
  const failures = cells.flatMap((c, i) => (c.ok ? [] : [`run ${i + 1} of ${cells.length} failed: ${c.error}`]));
  if (ok.length === 0) return { ok: false, error: failures.join('; ') };
  const keys: Metric[] = [];
  for (const r of ok) for (const m of r.metrics) if (!keys.some((k) => k.key === m.key)) keys.push(m);
  const metrics = keys.map((m) => {
    const values = ok.map((r) => r.metrics.find((x) => x.key === m.key)?.value).filter((v): v is number => v !== null && v !== undefined && Number.isFinite(v));
    return { ...m, value: median(values) };
  });
  const notes = runNotes(cells);
  notes.push(`medians of ${ok.length} runs${failures.length > 0 ? ` (${failures.join('; ')})` : ''}`);
  const perRun = ok.map((r) => ({ metrics: Object.fromEntries(r.metrics.map((m) => [m.key, m.value])), raw: r.raw }));
  return { ok: true, result: { metrics, notes, raw: { runs: perRun } } };
}
