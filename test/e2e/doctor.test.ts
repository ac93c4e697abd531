// End to end, issue 18: `wharf doctor` as a process, on this machine's disk and on a tmpfs the test mounts, with
// and without --crash-test: every check reported, the figures sane, the JSON and the exit codes as documented.
// The tmpfs must fail the flush check (RAM only), the disk must not. Mounting needs root: skipped loudly without.

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runWharf } from '../helpers/broker-process.js';
import { requireAvailable } from '../helpers/tools.js';
import { mountTmpfs, type Tmpfs } from '../helpers/full-disk-kit.js';
import type { DoctorReport } from '../../src/doctor/types.js';

const test = suite('e2e: wharf doctor');

const ALL_CHECKS = ['config', 'storage', 'fsync', 'write-rate', 'flush', 'estimate', 'board', 'serial', 'clock'];

let dir: string;
let tmpfs: Tmpfs | { error: string };
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-doctor-'));
  tmpfs = process.getuid?.() === 0 ? mountTmpfs('64m') : { error: 'not root' };
});
test.after(() => {
  if (!('error' in tmpfs)) tmpfs.umount();
  rmSync(dir, { recursive: true, force: true });
});

const onTmpfs = requireAvailable(test, process.getuid?.() === 0 ? undefined : 'not root (mounting a tmpfs needs it)');

function check(report: DoctorReport, name: string) {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c, `check ${name} missing: ${report.checks.map((x) => x.name).join(', ')}`);
  return c!;
}

async function doctor(args: string[]): Promise<{ code: number | null; report: DoctorReport; stderr: string }> {
  const r = await runWharf(['doctor', '--json', ...args], { timeoutMs: 120_000 });
  assert.not.ok(r.timedOut, 'doctor hung');
  return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport, stderr: r.stderr };
}

test('on the disk: all checks, plausible figures, exit 0, the data directory left as it was', async () => {
  const data = join(dir, 'data');
  const { code, report } = await doctor(['--data', data, '--rate', '50', '--payload-bytes', '300']);
  assert.is(code, 0, JSON.stringify(report, null, 1));
  assert.equal(report.checks.map((c) => c.name), ALL_CHECKS);
  assert.is(report.dataDir, data);
  const fsync = check(report, 'fsync').details as { samples: number; p50Ms: number; p99Ms: number };
  assert.ok(fsync.samples >= 5 && fsync.samples <= 200, String(fsync.samples));
  assert.ok(fsync.p50Ms > 0 && fsync.p99Ms >= fsync.p50Ms);
  const rate = check(report, 'write-rate').details as { bytes: number; bytesPerSecond: number };
  assert.ok(rate.bytes >= 1024 * 1024 && rate.bytesPerSecond > 0);
  assert.is.not(check(report, 'flush').verdict, 'fail');
  const storage = check(report, 'storage').details as { fsType: string; freeBytes: number; kind: string };
  assert.is.not(storage.fsType, 'tmpfs');
  assert.ok(storage.freeBytes > 0);
  const est = check(report, 'estimate').details as { messagesPerSecond: number; fsyncsPerSecond: number; bytesPerDay: number };
  assert.is(est.messagesPerSecond, 50);
  assert.ok(est.fsyncsPerSecond > 0 && est.fsyncsPerSecond <= 50);
  assert.ok(est.bytesPerDay >= 50 * 300 * 86400, 'at least the payload itself');
  // It created the directory to measure in it, and removed it again.
  assert.throws(() => readdirSync(data));
});

test('with --crash-test on the disk: the writer is killed the asked number of times, nothing acknowledged lost', async () => {
  const { code, report } = await doctor(['--data', join(dir, 'crash'), '--crash-rounds', '3']);
  assert.is(code, 0, JSON.stringify(check(report, 'crash-test')));
  const c = check(report, 'crash-test');
  assert.is(c.verdict, 'ok', c.summary);
  const d = c.details as { rounds: { acknowledged: number }[]; acknowledged: number; lost: number };
  assert.is(d.rounds.length, 3);
  assert.ok(d.acknowledged > 0, 'the writer acknowledged writes before being killed');
  assert.is(d.lost, 0);
});

onTmpfs('on a tmpfs: the flush check fails (RAM only) and doctor exits 1; the crash test still passes', async () => {
  if ('error' in tmpfs) throw new Error(`cannot mount a tmpfs: ${tmpfs.error}`);
  const { code, report } = await doctor(['--data', join(tmpfs.dir, 'data'), '--crash-test']);
  assert.is(code, 1);
  assert.is(report.verdict, 'fail');
  assert.is((check(report, 'storage').details as { fsType: string; kind: string }).fsType, 'tmpfs');
  const flush = check(report, 'flush');
  assert.is(flush.verdict, 'fail');
  assert.match(flush.summary, /RAM/);
  assert.is(check(report, 'crash-test').verdict, 'ok', check(report, 'crash-test').summary);
  assert.equal(readdirSync(tmpfs.dir), [], 'nothing left on the tmpfs');
});

test('an invalid configuration fails the config check (exit 1) and the other checks still run', async () => {
  const cfg = join(dir, 'bad.yaml');
  writeFileSync(cfg, `storage:\n  dataDir: ${join(dir, 'bad-data')}\n  commitIntervalMs: fast\n`);
  const { code, report } = await doctor(['--config', cfg, '--data', join(dir, 'bad-data')]);
  assert.is(code, 1);
  const c = check(report, 'config');
  assert.is(c.verdict, 'fail');
  assert.match(c.summary, /storage\.commitIntervalMs/);
  assert.ok(report.checks.length >= ALL_CHECKS.length);
});

test('the table names every check; usage errors exit 2', async () => {
  const r = await runWharf(['doctor', '--data', join(dir, 'table')], { timeoutMs: 60_000 });
  assert.is(r.code, 0, r.stderr);
  for (const name of ALL_CHECKS) assert.match(r.stdout, new RegExp(`^\\S*\\s+${name}\\s`, 'm'));
  assert.match(r.stdout, /0 failed/);
  const bad = await runWharf(['doctor', '--crash-rounds', '0']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--crash-rounds needs a positive integer/);
  const unknown = await runWharf(['doctor', '--frobnicate']);
  assert.is(unknown.code, 2);
});

test.run();
