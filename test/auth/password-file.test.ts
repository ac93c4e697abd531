// The password file: Mosquitto's $6$ and $7$ entries made by Debian's mosquitto_passwd, $argon2id$ entries,
// Wharf's own entries written by `wharf passwd`, and malformed lines reported by number and skipped.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argon2id } from 'hash-wasm';
import { PasswordFile } from '../../src/auth/password-file.js';
import { WHARF_PBKDF2_ITERATIONS } from '../../src/auth/hashes/pbkdf2-sha512.js';
import { requireTool } from '../helpers/tools.js';
import { WHARF_MAIN } from '../helpers/broker-process.js';

const test = suite('auth: password file');
const withMosquittoPasswd = requireTool(test, 'mosquitto_passwd');
const pw = (s: string) => Buffer.from(s, 'utf8');

let dir = '';
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wharf-passwd-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

withMosquittoPasswd('entries made by mosquitto_passwd (sha512-pbkdf2 and sha512) verify', async () => {
  const file = join(dir, 'mosquitto.passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'alice', 'pässword 1']);
  execFileSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'bob', 'hunter2']);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^alice:\$7\$101\$/m);
  assert.match(text, /^bob:\$6\$/m);
  const pf = PasswordFile.load(file);
  assert.equal(pf.problems, []);
  assert.is(pf.size, 2);
  assert.ok(await pf.verify('alice', pw('pässword 1')));
  assert.ok(await pf.verify('bob', pw('hunter2')));
  assert.not.ok(await pf.verify('alice', pw('pässword 2')));
  assert.not.ok(await pf.verify('bob', pw('hunter3')));
  assert.not.ok(await pf.verify('alice', undefined));
  assert.not.ok(await pf.verify('carol', pw('hunter2')));
});

test('an $argon2id$ entry (Mosquitto 2.1) verifies; a wrong password does not', async () => {
  const hash = await argon2id({ password: 'secret', salt: Buffer.alloc(16, 7), parallelism: 1, iterations: 2, memorySize: 1024, hashLength: 32, outputType: 'encoded' });
  const pf = PasswordFile.parse(`dave:${hash}\n`);
  assert.equal(pf.problems, []);
  assert.ok(await pf.verify('dave', pw('secret')));
  assert.not.ok(await pf.verify('dave', pw('Secret')));
});

test('malformed lines are named by number and skipped; the rest loads', async () => {
  const good = PasswordFile.parse('x:$6$c2FsdA==$' + Buffer.alloc(64).toString('base64')).size;
  assert.is(good, 1);
  const text = [
    '# users',
    'nocolon',
    'eve:$6$!!$abc',
    'frank:$9$a$b',
    'gina:$7$0$c2FsdA==$' + Buffer.alloc(64).toString('base64'),
    'hal:$6$c2FsdA==$c2hvcnQ=',
    'ivy:plaintext',
    '',
    'x:$6$c2FsdA==$' + Buffer.alloc(64).toString('base64'),
  ].join('\n');
  const pf = PasswordFile.parse(text);
  assert.equal(
    pf.problems.map((p) => p.line),
    [2, 3, 4, 5, 6, 7],
  );
  assert.match(pf.problems[0]!.message, /expected user:hash/);
  assert.match(pf.problems[2]!.message, /unknown hash type \$9\$/);
  assert.match(pf.problems[4]!.message, /expected 64/);
  assert.is(pf.size, 1);
  assert.ok(pf.has('x'));
});

function runPasswd(file: string, user: string, input: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_MAIN, 'passwd', file, user], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

withMosquittoPasswd('wharf passwd writes a $7$ entry that Wharf and the rest of the file keep', async () => {
  const file = join(dir, 'wharf.passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', file, 'old', 'oldpw']);
  // mosquitto_passwd 2.0 refuses comment lines; Wharf's reader and writer keep them.
  writeFileSync(file, '# site users\n' + readFileSync(file, 'utf8'));
  let r = await runPasswd(file, 'sensor-1', 'n3w secret\n');
  assert.is(r.code, 0, r.stderr);
  r = await runPasswd(file, 'old', 'changed\n');
  assert.is(r.code, 0, r.stderr);
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^# site users$/m);
  assert.match(text, new RegExp(`^sensor-1:\\$7\\$${WHARF_PBKDF2_ITERATIONS}\\$`, 'm'));
  assert.is(text.match(/^old:/gm)!.length, 1);
  assert.is(statSync(file).mode & 0o777, 0o600);
  const pf = PasswordFile.load(file);
  assert.equal(pf.problems, []);
  assert.ok(await pf.verify('sensor-1', pw('n3w secret')));
  assert.ok(await pf.verify('old', pw('changed')));
  assert.not.ok(await pf.verify('old', pw('oldpw')));
});

test('wharf passwd refuses an empty stdin and a user name with a colon', async () => {
  const file = join(dir, 'refused.passwd');
  let r = await runPasswd(file, 'u', '');
  assert.is(r.code, 2);
  assert.match(r.stderr, /no password on stdin/);
  r = await runPasswd(file, 'a:b', 'x\n');
  assert.is(r.code, 2);
  assert.match(r.stderr, /no ":"/);
});

test.run();
