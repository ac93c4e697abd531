// isoTime (src/log/iso-time.ts) gives exactly what toISOString gives.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isoTime } from '../../src/log/iso-time.js';

test('the same text as toISOString, padding, leap days and year ends included', () => {
  const times = [0, 1, 9, 10, 99, 100, 999, 1000, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2026, 11, 3, 9, 4, 31, 5), Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(100, 0, 1), -1, Date.UTC(0, 0, 1) - 1, -60_000_000_000_000, Date.UTC(10000, 0, 1), 8.64e15, -8.64e15];
  for (let i = 0; i < 2000; i++) times.push(Math.floor(i * 1_579_123_456_789.5) % 253_402_300_800_000);
  for (const ms of times) assert.is(isoTime(ms), new Date(ms).toISOString(), String(ms));
});

test('an invalid time throws the RangeError toISOString throws', () => {
  assert.throws(() => isoTime(Number.NaN), (err: Error) => err instanceof RangeError);
  assert.throws(() => isoTime(8.64e15 + 1), (err: Error) => err instanceof RangeError);
});

test('without an argument it is the current time', () => {
  const before = Date.now();
  const t = Date.parse(isoTime());
  assert.ok(t >= before && t <= Date.now());
});

test.run();
