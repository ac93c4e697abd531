import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, loadConfig, type LoadOptions } from '../../src/config/load.js';
import { isLoopbackHost, parseHostPort } from '../../src/config/monitoring.js';
import { validateConfig } from '../../src/config/validate.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const test = suite('config: admin, sys, metrics');

const TOKEN = 'a-long-enough-token-123';

function errorsOf(raw: unknown): string[] {
  const r = validateConfig(raw);
  return 'errors' in r ? r.errors : [];
}

function loadErrors(opts: LoadOptions): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    if (err instanceof ConfigError) return err.errors;
    throw err;
  }
  return [];
}

/** Loads `yaml` as a configuration file (the admin token rule is checked after every source, in loadConfig). */
function loadYaml(yaml: string, env: Record<string, string> = {}): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-monitoring-config-'));
  try {
    const file = join(dir, 'wharf.yaml');
    writeFileSync(file, yaml);
    return loadErrors({ file, env });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults: admin on 127.0.0.1:18083 without token, $SYS every 10 s, metrics on', () => {
  const r = validateConfig({});
  assert.ok('config' in r);
  if (!('config' in r)) return;
  assert.equal(r.config.admin, { enabled: true, listen: '127.0.0.1:18083', token: undefined });
  assert.equal(r.config.sys, { intervalMs: 10_000 });
  assert.equal(r.config.metrics, { enabled: true });
});

test('admin.listen must be HOST:PORT', () => {
  assert.equal(errorsOf({ admin: { listen: 'localhost' } }), ['admin.listen: must be HOST:PORT such as "127.0.0.1:18083" ("[::1]:18083" for IPv6); got "localhost"']);
  assert.equal(errorsOf({ admin: { listen: '127.0.0.1:70000' } }).length, 1);
  assert.equal(errorsOf({ admin: { listen: '[::1]:18083' } }), []);
  assert.equal(parseHostPort('[::1]:18083'), { host: '::1', port: 18083 });
  assert.equal(parseHostPort('gateway.local:9000'), { host: 'gateway.local', port: 9000 });
  assert.is(parseHostPort('1.2.3.4'), undefined);
});

test('loopback addresses are 127.0.0.0/8, ::1 and localhost', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'gateway.local']) assert.not.ok(isLoopbackHost(h), h);
});

test('an admin API off loopback without a token refuses to load, naming the setting that moved it', () => {
  const why = (source: string, listen: string) =>
    `admin.token: required because ${source} (${listen}) is not a loopback address; set admin.token (at least 16 characters, or WHARF_ADMIN_TOKEN), or listen on 127.0.0.1`;
  assert.equal(loadErrors({ env: {}, overrides: { admin: '0.0.0.0:18083' } }), [why('--admin', '0.0.0.0:18083')]);
  assert.equal(loadErrors({ env: { WHARF_ADMIN: '192.168.1.10:18083' } }), [why('WHARF_ADMIN', '192.168.1.10:18083')]);
  assert.equal(loadErrors({ env: { WHARF_ADMIN: '192.168.1.10:18083', WHARF_ADMIN_TOKEN: TOKEN } }), []);
  assert.equal(loadYaml('admin:\n  listen: 0.0.0.0:18083\n'), [why('admin.listen', '0.0.0.0:18083')]);
  assert.equal(loadYaml(`admin:\n  listen: 0.0.0.0:18083\n  token: ${TOKEN}\n`), []);
  assert.equal(loadYaml('admin:\n  enabled: false\n  listen: 0.0.0.0:18083\n'), [], 'a disabled API needs no token');
  assert.equal(loadErrors({ env: {}, overrides: { admin: '127.0.0.1:0' } }), []);
});

test('a short token or one with spaces is refused', () => {
  assert.equal(errorsOf({ admin: { token: 'short' } }), ['admin.token: must be a string of at least 16 characters without spaces; got 5 characters']);
  assert.equal(errorsOf({ admin: { token: 'has spaces in the middle' } }).length, 1);
  assert.equal(loadErrors({ env: { WHARF_ADMIN_TOKEN: 'short' } }), ['WHARF_ADMIN_TOKEN: must be a string of at least 16 characters without spaces; got 5 characters']);
});

test('sys.interval is 0 (off) or a duration from 1s to 1h; metrics.enabled a boolean', () => {
  const ok = (v: unknown) => {
    const r = validateConfig({ sys: { interval: v } });
    return 'config' in r ? r.config.sys.intervalMs : r.errors;
  };
  assert.is(ok('30s'), 30_000);
  assert.is(ok(0), 0);
  assert.is(ok('1h'), 3_600_000);
  assert.equal(ok('500ms'), ['sys.interval: must be a duration from "1s" to "1h" such as "10s", or 0 (not published); got "500ms" (500 ms)']);
  assert.equal(ok(10), ['sys.interval: must be a duration from "1s" to "1h" such as "10s", or 0 (not published); got 10']);
  assert.equal(errorsOf({ sys: { intervalMs: 5 } }), ['sys.intervalMs: unknown key (allowed: interval)']);
  assert.equal(errorsOf({ metrics: { enabled: 'yes' } }), ['metrics.enabled: must be true or false; got "yes"']);
});

test.run();
