// What `wharf doctor` reports: one entry per check, each with a verdict and the figures behind it.

export type Verdict = 'ok' | 'warn' | 'fail' | 'info';

export interface Check {
  /** Short name: storage, fsync, write-rate, flush, estimate, board, config, serial, clock, crash-test. */
  name: string;
  verdict: Verdict;
  /** One line a user can act on. */
  summary: string;
  /** The figures, for --json and for the detail lines of the table. */
  details: Record<string, unknown>;
}

export interface DoctorReport {
  dataDir: string;
  checks: Check[];
  /** The worst verdict: fail if any check failed, else warn if any warned, else ok. */
  verdict: 'ok' | 'warn' | 'fail';
}

export function worstVerdict(checks: Check[]): DoctorReport['verdict'] {
  if (checks.some((c) => c.verdict === 'fail')) return 'fail';
  if (checks.some((c) => c.verdict === 'warn')) return 'warn';
  return 'ok';
}
