// mqtt-packet's `debug` loggers are swapped for quiet ones unless DEBUG is set (src/protocol/quiet-debug.ts).
// Each case runs in a child process, since the swap is decided once per process, when the codec loads.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('protocol: mqtt-packet debug loggers');
const codec = fileURLToPath(new URL('../../src/protocol/codec.js', import.meta.url));

/** Loads the codec, parses one PINGREQ, and reports what mqtt-packet's `debug` resolves to. */
function probe(env: Record<string, string>): { quiet: boolean; parsed: string; stderr: string } {
  const script = `
    const { createRequire } = require('node:module');
    import(${JSON.stringify(codec)}).then((m) => {
      const req = createRequire(require.resolve('mqtt-packet'));
      const logger = req('debug')('mqtt-packet:probe');
      let parsed = '';
      const parser = m.createPacketParser(1024, (p) => (parsed = p.cmd), (e) => (parsed = 'error ' + e.message));
      parser.parse(Buffer.from([0xc0, 0x00]));
      console.log(JSON.stringify({ quiet: logger.toString().includes('=> undefined'), parsed }));
    });`;
  const env2: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('DEBUG' in env)) delete env2.DEBUG;
  const r = spawnSync(process.execPath, ['-e', script], { env: env2, encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return { ...(JSON.parse(last) as { quiet: boolean; parsed: string }), stderr: r.stderr };
}

test('without DEBUG the loggers are quiet and packets still parse', () => {
  const r = probe({});
  assert.is(r.quiet, true, r.stderr);
  assert.is(r.parsed, 'pingreq');
});

test('with DEBUG set the real debug module is used and logs', () => {
  const r = probe({ DEBUG: 'mqtt-packet:*' });
  assert.is(r.quiet, false);
  assert.is(r.parsed, 'pingreq');
  assert.match(r.stderr, /mqtt-packet:parser/);
});

test.run();
