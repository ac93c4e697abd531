import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LatencyHistogram, StoreMetrics, readProcWriteBytes } from '../../src/store/metrics.js';

const metrics = suite('store metrics');

metrics('the latency histogram reports p50 and p99 within its 1/8-octave resolution', () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 .. 100 ms, uniform
  assert.is(h.count, 1000);
  const p50 = h.percentileMs(0.5);
  const p99 = h.percentileMs(0.99);
  assert.ok(p50 >= 50 && p50 <= 50 * 1.13, `p50 ${p50}`);
  assert.ok(p99 >= 99 && p99 <= 100, `p99 ${p99}`);
  assert.is(h.maxMs, 100);
});

metrics('the histogram handles small, huge and negative values, and resets', () => {
  const h = new LatencyHistogram();
  assert.is(h.percentileMs(0.5), 0);
  h.record(0.003);
  h.record(-1);
  h.record(10_000_000);
  assert.is(h.percentileMs(0), 0);
  assert.is(h.percentileMs(0.5), 0.003);
  assert.ok(h.percentileMs(1) >= 4_000_000);
  h.reset();
  assert.is(h.count, 0);
  assert.is(h.percentileMs(0.99), 0);
});

metrics('write amplification is bytes written over payload bytes accepted', () => {
  let lmdbBytes = 1000;
  const m = new StoreMetrics(() => lmdbBytes);
  const payloads = { kind: 'js' as const, diskBytes: 0, segmentsCompacted: 0, payloadsMoved: 0, bytesCopied: 0, segmentsSkipped: 0 };
  const state = { pendingBytes: 0, usedBytes: 0, capacityBytes: 1, full: false, payloads };
  assert.is(m.snapshot(state).writeAmplification, 0);
  lmdbBytes += 3000;
  m.payloadFileBytes = 1000;
  m.payloadBytesAccepted = 2000;
  const snapshot = m.snapshot(state);
  assert.is(snapshot.bytesWritten, 4000);
  assert.is(snapshot.writeAmplification, 2);
});

metrics('/proc/self/io is read where it exists', () => {
  const value = readProcWriteBytes();
  if (process.platform === 'linux') assert.type(value, 'number');
  else assert.is(value, undefined);
});

metrics.run();
