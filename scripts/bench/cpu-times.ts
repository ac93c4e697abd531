// The machine's CPU times from /proc/stat, for two readings' difference: busy CPU (what a scenario's monitor
// compares with the broker's and the load generator's own) and the time the hypervisor gave to other guests
// while this machine's CPUs wanted to run ("steal"). On a shared host steal comes and goes in phases of minutes,
// and during one every peer is slower: scenario 13's 1 × 64 row measured 11.8k msg/s with 35 % of the CPU time
// stolen and 35.7k with 0.4 %, minutes apart (2026-12-03). It is shown beside the rates so that such a run is
// recognised as the host's, not read as a regression.

import { readFileSync } from 'node:fs';

/** Clock ticks (USER_HZ, 100 per second) over all CPUs since boot. */
export interface CpuTimes {
  total: number;
  /** Not idle and not waiting for I/O; steal included. */
  busy: number;
  steal: number;
}

/** Share of CPU time stolen from which a run's notes say that its rates are the host's. */
export const STEAL_NOTE_PERCENT = 5;

/** The first line of /proc/stat; undefined where there is none (not Linux) or it cannot be read. */
export function cpuTimes(): CpuTimes | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    if (f[0] !== 'cpu' || f.length < 9) return undefined;
    // user nice system idle iowait irq softirq steal; guest and guest_nice are already in user and nice.
    const [user, nice, system, idle, iowait, irq, softirq, steal] = f.slice(1, 9).map(Number) as [number, number, number, number, number, number, number, number];
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { total, busy: total - idle - iowait, steal };
  } catch {
    return undefined;
  }
}

/** Percent of the CPU time between two readings that the hypervisor took; null if unknown. */
export function stealPercent(from: CpuTimes | undefined, to: CpuTimes | undefined): number | null {
  if (from === undefined || to === undefined || to.total <= from.total) return null;
  return (100 * (to.steal - from.steal)) / (to.total - from.total);
}
