// End to end: the built CLI (`node dist/src/cli/main.js`) as a child process: help and usage errors, `start`
// on free loopback ports serving real clients, graceful shutdown on SIGTERM/SIGINT, configuration errors,
// a port already in use, and the WHARF_PORT environment variable.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { RawClient } from '../helpers/raw-client.js';
import { summary } from '../helpers/witness.js';

const test = suite('e2e: wharf CLI');

// dist/test/e2e/cli.test.js -> dist/src/cli/main.js
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves when stdout+stderr so far match `re` (rejects if the process exits first or after `ms`). */
  waitOutput(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
}

function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Cli {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  for (const k of ['WHARF_PORT', 'WHARF_WS_PORT', 'WHARF_DATA_DIR', 'WHARF_LOG_LEVEL', 'WHARF_CONFIG']) if (!opts.env?.[k]) delete env[k];
  const child = spawn(process.execPath, [MAIN, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((f) => f());
  child.stdout!.on('data', (d) => ((out += d), changed()));
  child.stderr!.on('data', (d) => ((err += d), changed()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => (resolve(code), changed())));
  let done = false;
  exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitOutput(re, ms = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${re}; output:\n${out}${err}`)), ms);
        const check = () => {
          const m = (out + err).match(re);
          if (m) finish(null, m);
          else if (done) finish(new Error(`exited before ${re}; output:\n${out}${err}`));
        };
        const finish = (e: Error | null, m?: RegExpMatchArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (e) reject(e);
          else resolve(m!);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs the CLI to completion; kills it if it outlives `ms`. */
async function cliRun(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}, ms = 5000) {
  const c = cli(args, opts);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), ms);
  const code = await c.exited;
  clearTimeout(timer);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

async function stopCli(c: Cli): Promise<void> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  await c.exited;
}

/** A port that was free a moment ago (bound to 0 on loopback, then released). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A temp directory with a config file listening on loopback only; removed by `cleanup`. */
function workspace(yaml: (dataDir: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-cli-'));
  const dataDir = join(dir, 'data');
  const config = join(dir, 'wharf.yaml');
  writeFileSync(config, yaml(dataDir));
  return { dir, dataDir, config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const loopbackConfig = (tcp: number, ws: number) => (dataDir: string) =>
  `listeners:\n  - { type: tcp, host: 127.0.0.1, port: ${tcp} }\n  - { type: ws, host: 127.0.0.1, port: ${ws}, path: /mqtt }\nstorage:\n  dataDir: ${JSON.stringify(dataDir)}\nlog:\n  level: info\nadmin:\n  listen: 127.0.0.1:0\n`;

test('--help exits 0 and documents every option and environment variable', async () => {
  const r = await cliRun(['--help']);
  assert.is(r.code, 0);
  assert.is(r.stderr, '');
  for (const word of ['-c, --config', '-p, --port', '--ws-port', '--data', '--log-level', '-h, --help', 'WHARF_PORT', 'WHARF_WS_PORT', 'WHARF_DATA_DIR', 'WHARF_LOG_LEVEL']) {
    assert.ok(r.stdout.includes(word), `help mentions ${word}`);
  }
});

test('an unknown option exits 2 with a message naming it, on stderr', async () => {
  const r = await cliRun(['start', '--bogus']);
  assert.is(r.code, 2);
  assert.is(r.stdout, '');
  // One line and a pointer to --help, not the whole help text.
  assert.is(r.stderr, 'wharf: unknown option "--bogus"; run "wharf --help" for usage\n');
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`start: listening lines for tcp and ws, serves clients; on ${signal} sends DISCONNECT 0x8B to a 5.0 client and exits 0`, async () => {
    const [tcp, ws] = [await freePort(), await freePort()];
    const w = workspace(loopbackConfig(tcp, ws));
    const c = cli(['start', '--config', w.config]);
    const clients: Awaited<ReturnType<typeof connectClient>>[] = [];
    let raw: RawClient | undefined;
    try {
      await c.waitOutput(new RegExp(`listening type=tcp host=127.0.0.1 port=${tcp}\\b`));
      await c.waitOutput(new RegExp(`listening type=ws host=127.0.0.1 port=${ws} path=/mqtt`));
      assert.ok(existsSync(w.dataDir), 'data directory created');
      // A TCP subscriber and a WebSocket publisher through the CLI-run broker.
      const sub = await connectClient(`mqtt://127.0.0.1:${tcp}`, { clientId: 'cli-sub' });
      clients.push(sub);
      const pub = await connectClient(`ws://127.0.0.1:${ws}/mqtt`, { clientId: 'cli-pub', protocolVersion: 4 });
      clients.push(pub);
      const inbox = collect(sub);
      await sub.subscribeAsync('cli/#', { qos: 1 });
      await pub.publishAsync('cli/hello', 'world', { qos: 1 });
      await inbox.waitCount(1);
      assert.equal([inbox.messages[0]!.topic, inbox.messages[0]!.payload], ['cli/hello', 'world']);
      await Promise.all(clients.splice(0).map((x) => endClient(x)));

      raw = (await RawClient.connected(tcp, { clientId: 'cli-raw' }, 5)).client;
      c.child.kill(signal);
      const got = (await raw.expectClose()).map(summary);
      assert.equal(got, ['disconnect:0x8b']);
      assert.is(await c.exited, 0, `exit code after ${signal}; output:\n${c.stdout()}${c.stderr()}`);
    } finally {
      raw?.end();
      await Promise.all(clients.map((x) => endClient(x, true)));
      await stopCli(c);
      w.cleanup();
    }
  });
}

test('SIGTERM sent as soon as the "starting" line appears (mid-startup) still stops gracefully with exit 0', async () => {
  const w = workspace(loopbackConfig(await freePort(), await freePort()));
  const c = cli(['start', '--config', w.config]);
  try {
    await c.waitOutput(/ info starting /);
    c.child.kill('SIGTERM');
    assert.is(await c.exited, 0, `output:\n${c.stdout()}${c.stderr()}`);
    assert.is(c.child.signalCode, null, 'not killed by the signal');
    assert.match(c.stdout(), /shutting down signal=SIGTERM\n.*stopped\n$/);
  } finally {
    await stopCli(c);
    w.cleanup();
  }
});

test('a config file with an unknown key and a bad port exits 2, naming each key path', async () => {
  const w = workspace(() => 'listeners:\n  - { type: tcp, host: 127.0.0.1, port: 70000 }\nmqtt:\n  bogusKey: 1\n');
  try {
    const r = await cliRun(['start', '--config', w.config]);
    assert.is(r.code, 2);
    assert.ok(r.stderr.includes(`invalid configuration in ${w.config}:`), r.stderr);
    assert.ok(r.stderr.includes('listeners[0].port: must be an integer 1-65535; got 70000'), r.stderr);
    assert.ok(r.stderr.includes('mqtt.bogusKey: unknown key'), r.stderr);
    assert.not.match(r.stdout, 'listening');
  } finally {
    w.cleanup();
  }
});

test('a port already in use exits 4 with one line naming the listener and the address', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const busy = (blocker.address() as net.AddressInfo).port;
  const w = workspace(loopbackConfig(busy, await freePort()));
  try {
    const r = await cliRun(['start', '--config', w.config]);
    assert.is(r.code, 4, r.stdout + r.stderr);
    assert.is(r.stderr, `wharf: cannot start listeners[0] (tcp on 127.0.0.1:${busy}): the port is already in use (another broker, e.g. Mosquitto or EMQX, or a second Wharf?)\n`);
    assert.not.match(r.stdout, 'listening');
  } finally {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    w.cleanup();
  }
});

test('WHARF_PORT overrides the tcp port of the config file', async () => {
  const [filePort, envPort, ws] = [await freePort(), await freePort(), await freePort()];
  const w = workspace(loopbackConfig(filePort, ws));
  const c = cli(['start', '--config', w.config], { env: { WHARF_PORT: String(envPort) } });
  let raw: RawClient | undefined;
  try {
    await c.waitOutput(new RegExp(`listening type=ws host=127.0.0.1 port=${ws}`));
    assert.match(c.stdout(), new RegExp(`listening type=tcp host=127.0.0.1 port=${envPort}\\b`));
    assert.not.match(c.stdout(), `port=${filePort}`);
    const { client, connack } = await RawClient.connected(envPort, { clientId: 'env-port' }, 4);
    raw = client;
    assert.is(connack.returnCode, 0);
    c.child.kill('SIGTERM');
    assert.equal((await raw.expectClose()).map(summary), []);
    assert.is(await c.exited, 0);
  } finally {
    raw?.end();
    await stopCli(c);
    w.cleanup();
  }
});

test.run();
