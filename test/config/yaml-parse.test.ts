import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { parseYaml, WORKER_MIN_CHARS, YamlSyntaxError } from '../../src/config/yaml-parse.js';

const SAMPLE = [
  'listeners:',
  '  - { type: tcp, host: 127.0.0.1, port: 1883 }',
  'devices:',
  '  - name: "meter 1"',
  '    points:',
  '      - { name: voltage, address: 0, scale: 0.1, unit: V, on: true, off: null }',
  '      - { name: "ünïcode ✓", address: 1e3, big: 18446744073709551615, neg: -0.5 }',
  'text: |',
  '  two',
  '  lines',
  '',
].join('\n');

test('the worker gives what yaml parse gives in-process, for every scalar kind', () => {
  const expected = parse(SAMPLE);
  assert.equal(parseYaml(SAMPLE, { worker: true }), expected);
  assert.equal(parseYaml(SAMPLE, { worker: false }), expected);
});

test('a syntax error is a YamlSyntaxError with its line and column, from the worker as in-process', () => {
  const bad = 'a: 1\nb: [1, 2\nc: 3\n';
  for (const worker of [true, false]) {
    try {
      parseYaml(bad, { worker, prettyErrors: true });
      assert.unreachable('no error');
    } catch (err) {
      assert.instance(err, YamlSyntaxError);
      const e = err as YamlSyntaxError;
      assert.ok(e.linePos !== undefined && e.linePos[0]!.line >= 2, `line of ${JSON.stringify(e.linePos)}`);
      assert.match(e.message, /\n/, 'prettyErrors excerpt');
    }
  }
});

test('a configuration file above the threshold loads through the worker with its errors as before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-yaml-parse-'));
  try {
    // Padding comments past the threshold; then an invalid key: validation still names it.
    const pad = '# padding\n'.repeat(Math.ceil(WORKER_MIN_CHARS / 10) + 1);
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `${pad}mqtt:\n  maxPacketSize: 1024\n`);
    assert.is(loadConfig({ file }).mqtt.maxPacketSize, 1024);
    writeFileSync(file, `${pad}mqtt:\n  maxPacketSise: 1024\n`);
    try {
      loadConfig({ file });
      assert.unreachable('no error');
    } catch (err) {
      assert.instance(err, ConfigError);
      assert.match((err as Error).message, /mqtt\.maxPacketSise/);
    }
    writeFileSync(file, `${pad}mqtt: [\n`);
    assert.throws(() => loadConfig({ file }), (err: Error) => err instanceof ConfigError && /line \d+, column \d+: YAML syntax error/.test(err.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the yaml library leaves the require cache once a small text is parsed, unless it was loaded before', () => {
  // In a child: this process has yaml loaded (the import above).
  const module = JSON.stringify(fileURLToPath(new URL('../../src/config/yaml-parse.js', import.meta.url)));
  const script = `
    import { createRequire } from 'node:module';
    const { parseYaml } = await import(${module});
    const cache = createRequire(import.meta.url).cache;
    const yamlFiles = () => Object.keys(cache).filter((k) => k.includes('/node_modules/yaml/')).length;
    const first = JSON.stringify(parseYaml('a: [1, 2]\\n', { worker: false }));
    const afterOwnLoad = yamlFiles();
    createRequire(import.meta.url)('yaml');
    const loaded = yamlFiles();
    parseYaml('b: 3\\n', { worker: false });
    console.log(JSON.stringify({ first, afterOwnLoad, kept: yamlFiles() === loaded && loaded > 0 }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { first: '{"a":[1,2]}', afterOwnLoad: 0, kept: true });
});

test.run();
