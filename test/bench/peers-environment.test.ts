// The environment the benchmarks start brokers with (scripts/bench/peers.ts, issue 13): by default what the systemd
// unit gives a gateway's service, so a variable of this shell such as NODE_EXTRA_CA_CERTS (1.8 MB of RSS in every
// node process) does not reach the broker measured; WHARF_BENCH_ENV=shell gives the whole environment as before.

import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { benchEnvironmentMode, brokerEnvironment, serviceEnvironment, SERVICE_PATH, startPeer } from '../../scripts/bench/peers.js';

const test = suite('bench: brokers get the service environment');

const shell = {
  PATH: '/root/bin:/usr/bin',
  HOME: '/root',
  USER: 'root',
  LANG: 'C.UTF-8',
  NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
  NODE_OPTIONS: '--inspect',
  MALLOC_ARENA_MAX: '8',
};

test('the service environment is systemd PATH and the user and locale variables, nothing else of the shell', () => {
  assert.equal(serviceEnvironment(shell), { PATH: SERVICE_PATH, HOME: '/root', USER: 'root', LANG: 'C.UTF-8' });
});

test('service mode: the peer variables on top; shell mode: the shell as it is plus NODE_ENV', () => {
  assert.equal(brokerEnvironment({ MALLOC_ARENA_MAX: '2' }, 'service', shell), { PATH: SERVICE_PATH, HOME: '/root', USER: 'root', LANG: 'C.UTF-8', MALLOC_ARENA_MAX: '2' });
  const sh = brokerEnvironment({ X: '1' }, 'shell', shell);
  assert.is(sh.NODE_EXTRA_CA_CERTS, shell.NODE_EXTRA_CA_CERTS);
  assert.is(sh.NODE_ENV, 'production');
  assert.is(sh.X, '1');
});

test('WHARF_BENCH_ENV: service by default, shell on request, anything else refused', () => {
  assert.is(benchEnvironmentMode(undefined), 'service');
  assert.is(benchEnvironmentMode(''), 'service');
  assert.is(benchEnvironmentMode('service'), 'service');
  assert.is(benchEnvironmentMode('shell'), 'shell');
  assert.throws(() => benchEnvironmentMode('login'), /expected service or shell/);
});

test('a Wharf peer started by the bench has neither NODE_EXTRA_CA_CERTS nor another shell variable, and has the malloc settings', async () => {
  const saved = { ca: process.env.NODE_EXTRA_CA_CERTS, mode: process.env.WHARF_BENCH_ENV, marker: process.env.WHARF_TEST_SHELL_ONLY };
  process.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/certs/ca-certificates.crt';
  process.env.WHARF_TEST_SHELL_ONLY = '1';
  delete process.env.WHARF_BENCH_ENV;
  const peer = await startPeer('wharf');
  try {
    const env = new Map(
      readFileSync(`/proc/${peer.pid}/environ`, 'latin1')
        .split('\0')
        .filter((e) => e !== '')
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const),
    );
    assert.is(env.get('NODE_EXTRA_CA_CERTS'), undefined);
    assert.is(env.get('WHARF_TEST_SHELL_ONLY'), undefined);
    assert.is(env.get('PATH'), SERVICE_PATH);
    assert.is(env.get('MALLOC_ARENA_MAX'), process.env.MALLOC_ARENA_MAX || '2');
  } finally {
    await peer.stop();
    for (const [name, value] of [['NODE_EXTRA_CA_CERTS', saved.ca], ['WHARF_BENCH_ENV', saved.mode], ['WHARF_TEST_SHELL_ONLY', saved.marker]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test.run();
