import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateConfig } from '../../src/config/validate.js';

const storage = suite('storage settings');

storage('commit window, sizes and limits are read, sizes with units', () => {
  const r = validateConfig({ storage: { commitIntervalMs: 20, commitMaxBytes: '512KiB', mapSizeBytes: '256MiB', maxPendingBytes: '2MiB' } });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.commitIntervalMs, 20);
  assert.is(r.config.storage.commitMaxBytes, 512 * 1024);
  assert.is(r.config.storage.mapSizeBytes, 256 * 1024 * 1024);
  assert.is(r.config.storage.maxPendingBytes, 2 * 1024 * 1024);
  assert.is(r.config.storage.inlineMaxBytes, 2048);
});

storage('out-of-range storage values name the key and the range', () => {
  const r = validateConfig({ storage: { commitIntervalMs: -1, mapSizeBytes: '1KiB' } });
  assert.ok('errors' in r);
  if (!('errors' in r)) return;
  assert.match(r.errors.join('\n'), /storage\.commitIntervalMs: must be an integer 0-10000; got -1/);
  assert.match(r.errors.join('\n'), /storage\.mapSizeBytes: /);
});

storage('payloadStore is native, js or auto (default auto); payloadSegmentBytes takes units', () => {
  const d = validateConfig({});
  assert.ok('config' in d);
  if (!('config' in d)) return;
  assert.is(d.config.storage.payloadStore, 'auto');
  assert.is(d.config.storage.payloadSegmentBytes, 64 * 1024 * 1024);
  const r = validateConfig({ storage: { payloadStore: 'js', payloadSegmentBytes: '16MiB' } });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.payloadStore, 'js');
  assert.is(r.config.storage.payloadSegmentBytes, 16 * 1024 * 1024);
  const bad = validateConfig({ storage: { payloadStore: 'fast', payloadSegmentBytes: '4KiB' } });
  assert.ok('errors' in bad);
  if (!('errors' in bad)) return;
  assert.match(bad.errors.join('\n'), /storage\.payloadStore: expected one of native, js, auto; got "fast"/);
  assert.match(bad.errors.join('\n'), /storage\.payloadSegmentBytes: /);
});

storage('a board profile sets the payload segment size', () => {
  const r = validateConfig({ board: 'rpi-zero-2w' });
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.is(r.config.storage.payloadSegmentBytes, 16 * 1024 * 1024);
});

storage.run();
