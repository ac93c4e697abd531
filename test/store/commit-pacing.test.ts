// When a commit may start (src/store/commit-pacing.ts), driven with clock numbers: the rate cap always holds, and
// the minimum batch only once the commit rate, measured over the last second, really is above half the cap, and a
// window of background writes only waits commitIntervalMs for company.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CommitPacer, RATE_SPAN_MS, type CommitPacingOptions, type WaitingWindow } from '../../src/store/commit-pacing.js';

const pacing = suite('commit pacing');

// The embedded default's figures: 0.5 ms between commit starts, half the cap is 1000 commits per second.
const DEFAULTS: CommitPacingOptions = { commitIntervalMs: 5, commitMaxPerSecond: 2000, commitMinBatchBytes: 16 * 1024 };
const SPACING_MS = 1000 / DEFAULTS.commitMaxPerSecond;

/** One small write, arrived at `at`: far below the minimum batch. */
const oneWrite = (at: number): WaitingWindow => ({ bytes: 300, openedAt: at, full: false, urgent: true });

/**
 * A writer with one write outstanding that appends again inside its durability callback, as the bridge downlink
 * and in-process publishers do: every commit ends with the next write already waiting (back to back), and the
 * next may start `gapMs` after the last one started. Returns the start times of `commits` commits.
 */
function callbackWriter(pacer: CommitPacer, commits: number, gapMs: number, commitMs: number): number[] {
  const starts: number[] = [];
  let now = 0;
  for (let i = 0; i < commits; i++) {
    const window = oneWrite(now);
    now = Math.max(now, pacer.dueAt(window, now, false));
    pacer.started(now);
    starts.push(now);
    now += commitMs;
    pacer.finished(true); // the next write arrived in the callback, before the commit's end was seen
    now = Math.max(now, starts[starts.length - 1]! + gapMs);
  }
  return starts;
}

pacing('a writer appending in its durability callback gets one commit per write up to half the cap', () => {
  const pacer = new CommitPacer(DEFAULTS);
  // 0.3 ms per commit, the next allowed 0.6 ms after the previous start: 1,667 commits per second wanted, for
  // 0.5 s, so fewer than half the cap's 1000 per second over the last second.
  const starts = callbackWriter(pacer, 800, 0.6, 0.3);
  const waited = starts.filter((at, i) => i > 0 && at - starts[i - 1]! > 0.6 + 1e-9).length;
  assert.is(waited, 0, 'no commit waited for the minimum batch');
  assert.ok(starts[starts.length - 1]! < 800 * 0.6, `800 commits by ${starts[starts.length - 1]} ms`);
});

pacing('one back-to-back pair is no high rate: the next small write commits at once', () => {
  const pacer = new CommitPacer(DEFAULTS);
  pacer.started(100);
  pacer.finished(true);
  // The old rule (back to back and within 2 x spacing of the last start) held this write for commitIntervalMs.
  assert.is(pacer.dueAt(oneWrite(100.3), 100.6, false), 100 + SPACING_MS);
  assert.is(pacer.waitFor(oneWrite(100.3), 100.6, false), 'cap');
});

pacing('over half the cap during the last second, back to back: a small write waits for the minimum batch', () => {
  const pacer = new CommitPacer(DEFAULTS);
  // At the cap (2000 per second) for 1 s: twice the high-rate threshold.
  let now = 0;
  for (let i = 0; i < 2000; i++, now += SPACING_MS) {
    pacer.started(now);
    pacer.finished(true);
  }
  const last = now - SPACING_MS;
  const window = oneWrite(last + 0.1);
  assert.is(pacer.dueAt(window, last + 0.2, false), last + 0.1 + DEFAULTS.commitIntervalMs, 'at most commitIntervalMs after it arrived');
  assert.is(pacer.waitFor(window, last + 0.2, false), 'batch');
  // The minimum batch, a full window or a flush lets it go as soon as the cap allows.
  assert.is(pacer.dueAt({ ...window, bytes: DEFAULTS.commitMinBatchBytes }, last + 0.2, false), last + SPACING_MS);
  assert.is(pacer.dueAt({ ...window, full: true }, last + 0.2, false), last + SPACING_MS);
  assert.is(pacer.dueAt(window, last + 0.2, true), last + SPACING_MS);
  // Not back to back (nothing waited when the last commit ended): the writers, not the disk, set the pace.
  pacer.finished(false);
  assert.is(pacer.dueAt(window, last + 0.2, false), last + SPACING_MS);
});

pacing('a writer in its callback settles at about half the cap, never above the cap', () => {
  const pacer = new CommitPacer(DEFAULTS);
  // 0.1 ms per commit: left alone it would commit at the cap, 2000 per second. Over 3 s of clock time.
  const starts = callbackWriter(pacer, 6000, 0, 0.1).filter((at) => at <= 3 * RATE_SPAN_MS);
  const lastSecond = starts.filter((at) => at > 2 * RATE_SPAN_MS).length;
  assert.ok(lastSecond >= 950 && lastSecond <= 1100, `${lastSecond} commits in the third second`);
  assert.ok(starts.every((at, i) => i === 0 || at - starts[i - 1]! >= SPACING_MS - 1e-9), 'the cap holds');
});

pacing('a burst is forgotten after a pause: the next back-to-back pair commits at once', () => {
  const pacer = new CommitPacer(DEFAULTS);
  let now = 0;
  for (let i = 0; i < 2000; i++, now += SPACING_MS) {
    pacer.started(now);
    pacer.finished(true);
  }
  // A pause of two spans, then one pair.
  now += 2 * RATE_SPAN_MS;
  pacer.started(now);
  pacer.finished(true);
  assert.is(pacer.dueAt(oneWrite(now + 0.2), now + 0.5, false), now + SPACING_MS);
});

pacing('background writes alone wait commitIntervalMs at any rate; a flush or a full window lets them go', () => {
  const pacer = new CommitPacer(DEFAULTS);
  // Idle disk, low rate: an urgent write would commit at once (the first test), a background one waits.
  pacer.started(100);
  pacer.finished(false);
  const removals: WaitingWindow = { ...oneWrite(200), urgent: false };
  assert.is(pacer.waitFor(removals, 200, false), 'background');
  assert.is(pacer.dueAt(removals, 200, false), 200 + DEFAULTS.commitIntervalMs);
  // Large but not full: still waits (its size is not what anyone waits for).
  assert.is(pacer.dueAt({ ...removals, bytes: DEFAULTS.commitMinBatchBytes }, 200, false), 200 + DEFAULTS.commitIntervalMs);
  assert.is(pacer.dueAt({ ...removals, full: true }, 200, false), 100 + SPACING_MS);
  assert.is(pacer.dueAt(removals, 200, true), 100 + SPACING_MS);
  // Once it has waited commitIntervalMs, it goes.
  assert.is(pacer.dueAt(removals, 205, false), 205);
  // An urgent write joining the window makes it due at once.
  assert.is(pacer.dueAt({ ...removals, urgent: true }, 200.1, false), 100 + SPACING_MS);
});

pacing.run();
