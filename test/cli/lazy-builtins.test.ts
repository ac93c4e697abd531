// The broker's modules load node:crypto, node:worker_threads, node:child_process and node:zlib only when they are used
// (src/lazy-builtins.ts, issue 13: about 1 MB of idle RSS for node:crypto alone). In a child process, since this
// one has loaded them already through other tests; an ES module script, since `node -e` in CommonJS loads
// node:crypto itself.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('cli: built-in modules loaded on first use');
const dist = (p: string) => fileURLToPath(new URL(`../../src/${p}`, import.meta.url));

test('importing the broker, store, admin and auth modules loads none of them; first use loads and works', () => {
  const script = `
    const loaded = (m) => process.moduleLoadList.includes('NativeModule ' + m);
    const mods = ${JSON.stringify(['cli/start.js', 'admin/server.js', 'broker/handlers/connect.js', 'auth/hashes/password-hash.js', 'store/keys.js', 'config/yaml-parse.js', 'store/payload/crc32.js', 'store/store.js'].map(dist))};
    const [, , , hashes, keys, , crc] = await Promise.all(mods.map((m) => import(m)));
    {
      const before = ['crypto', 'worker_threads', 'zlib'].filter(loaded);
      const key = keys.textKey('t'.repeat(5000));
      const same = hashes.equalDigests(Buffer.from('ab'), Buffer.from('ab'));
      const check = crc.crc32(Buffer.from('123456789')).toString(16) + ' ' + crc.crc32Continue(Buffer.from('6789'), crc.crc32(Buffer.from('12345'))).toString(16);
      console.log(JSON.stringify({ before, after: ['crypto', 'zlib'].filter(loaded), keyBytes: key.length, same, check }));
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../../..', import.meta.url)) });
  const out = JSON.parse(r.stdout.trim().split('\n').pop() || '{}') as { before: string[]; after: string[]; keyBytes: number; same: boolean; check: string };
  assert.equal(out.before, [], r.stderr);
  assert.equal(out.after, ['crypto', 'zlib'], r.stderr);
  assert.is(out.check, 'cbf43926 cbf43926', 'the CRC-32 check value, whole and continued');
  assert.is(out.keyBytes, 33, 'a long text key is its one-byte tag and SHA-256 digest');
  assert.is(out.same, true);
});

test.run();
