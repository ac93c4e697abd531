// Log rate limits and writes to standard streams that have gone away: a repeated condition is said once per
// window with the count in between; a write to a closed pipe is counted, never thrown.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { LogRateLimit } from '../../src/log/rate-limit.js';

const test = suite('log: rate limits and closed streams');

test('once per key per window, then again with the number suppressed in between', () => {
  const limit = new LogRateLimit(60_000);
  assert.is(limit.take('small', 1000), 0, 'first time: log');
  assert.is(limit.take('small', 2000), undefined);
  assert.is(limit.take('small', 3000), undefined);
  assert.is(limit.take('big', 3000), 0, 'another key has its own window');
  assert.is(limit.take('small', 61_000), 2, 'a window later: log, with the two not logged');
  assert.is(limit.take('small', 62_000), undefined);
});

test('a flood of distinct keys does not grow the table without bound', () => {
  const limit = new LogRateLimit(60_000, 10);
  for (let i = 0; i < 25; i++) assert.is(limit.take(`addr-${i}`, 0), 0);
  // The table was cleared on the way: an early key is logged again rather than remembered forever.
  assert.is(limit.take('addr-0', 1), 0);
});

test('a process logging to a closed stdout keeps running and counts the failed writes', async () => {
  // A child that logs through writeStd after its reader went away (as `| head -1` does), then reports on stderr.
  const script = `
    const { createLogger, logWriteStats } = await import(${JSON.stringify(new URL('../../src/log/logger.js', import.meta.url).href)});
    const log = createLogger('info');
    log.info('first');
    await new Promise((r) => process.stdin.once('data', r));
    process.stdin.destroy();
    for (let i = 0; i < 5; i++) { log.info('after close', { i }); await new Promise((r) => setTimeout(r, 20)); }
    await new Promise((r) => setTimeout(r, 100));
    process.stderr.write('alive errors=' + logWriteStats.errors + '\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  child.stdout!.destroy();
  child.stdin!.write('go\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.is(code, 0, stderr);
  const m = /alive errors=(\d+)/.exec(stderr);
  assert.ok(m !== null && Number(m[1]) > 0, `failed writes counted: ${stderr}`);
});

test.run();
