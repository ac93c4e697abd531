// End to end, issue 11 "Robustness": `wharf start` on a busy port (every listener type: tcp, ws, tls, wss,
// admin) ends with one line naming the listener and the port, exit code 4 and everything it had started stopped
// again; an unusable data directory (/proc/x) is an error within seconds, not a hang; and a closed stdout
// (`wharf start | head -1`) does not take the broker down.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, runWharf, WHARF_MAIN, Workspace, type CliRun } from '../helpers/broker-process.js';
import { collect, connectClient, endClient } from '../helpers/mqttjs.js';
import { requireTool, run } from '../helpers/tools.js';

const test = suite('e2e: wharf start failures are one line and an exit code; a closed stdout is not fatal');

/** StartExitCode.Listener, documented in the README's exit code table. */
const EXIT_LISTENER = 4;
const EXIT_DATA_DIR = 3;
/** "Within a few seconds" on a loaded 2-core machine: long enough to start, short enough to catch a hang. */
const EXIT_WITHIN_MS = 8000;

/** Holds `port` on 127.0.0.1 (as another broker would) until `release()`. */
async function occupy(port: number): Promise<() => Promise<void>> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', resolve);
  });
  return () => new Promise<void>((resolve) => srv.close(() => resolve()));
}

/** Refused to start because of `listener` (listeners[i]) of `type` on 127.0.0.1:`port`: one stderr line, exit 4, stopped cleanly. */
function assertListenerRefused(r: CliRun, listener: string, type: string, port: number): void {
  const out = `\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.is(r.timedOut, false, `exits by itself${out}`);
  assert.is(r.signal, null, out);
  assert.is(r.code, EXIT_LISTENER, `exit code of a listener failure${out}`);
  const line = `wharf: cannot start ${listener} (${type} on 127.0.0.1:${port}): the port is already in use`;
  assert.ok(r.stderr.startsWith(line), `stderr starts with "${line}"${out}`);
  assert.is(r.stderr.trimEnd().split('\n').length, 1, `one line on stderr, no stack trace${out}`);
  assert.match(r.stdout, new RegExp(`error cannot start listener listener=${listener.replace(/[[\]]/g, '\\$&')} type=${type} host=127\\.0\\.0\\.1 port=${port} `));
  assert.not.match(r.stdout, / listening /, `no listener reported as serving${out}`);
  // broker.stop() ran: listeners bound before the failing one closed, the store's last window flushed and closed.
  assert.match(r.stdout, / info stopped\n$/, `stopped cleanly after the failure${out}`);
}

async function withWorkspace(yaml: string, fn: (ws: Workspace) => Promise<void>): Promise<void> {
  const ws = Workspace.create(undefined, yaml);
  try {
    await fn(ws);
  } finally {
    await ws.dispose();
  }
}

const INFO = ['--log-level', 'info'];

test('tcp listener on a busy port: one line naming listeners[0] and the port, exit 4', () =>
  withWorkspace('', async (ws) => {
    const busy = await freePort();
    const release = await occupy(busy);
    try {
      const r = await runWharf([...ws.args(busy, await freePort()), ...INFO], { timeoutMs: EXIT_WITHIN_MS });
      assertListenerRefused(r, 'listeners[0]', 'tcp', busy);
    } finally {
      await release();
    }
  }),
);

test('ws listener on a busy port (the EADDRINUSE crash): one line, exit 4, the tcp listener started before it closed', () =>
  withWorkspace('', async (ws) => {
    const busy = await freePort();
    const release = await occupy(busy);
    try {
      const r = await runWharf([...ws.args(await freePort(), busy), ...INFO], { timeoutMs: EXIT_WITHIN_MS });
      assertListenerRefused(r, 'listeners[1]', 'ws', busy);
    } finally {
      await release();
    }
  }),
);

test('admin listener on a busy port: one line naming admin.listen, exit 4, the MQTT listeners closed again', () =>
  withWorkspace('', async (ws) => {
    const busy = await freePort();
    const release = await occupy(busy);
    try {
      const r = await runWharf([...ws.args(await freePort(), await freePort(), undefined, busy), ...INFO], { timeoutMs: EXIT_WITHIN_MS });
      // The MQTT listeners had started (and said so) before the admin API failed; stop() closed them.
      const out = `\n${r.stdout}${r.stderr}`;
      assert.is(r.code, EXIT_LISTENER, out);
      assert.ok(r.stderr.startsWith(`wharf: cannot start admin.listen (admin on 127.0.0.1:${busy}): the port is already in use`), out);
      assert.is(r.stderr.trimEnd().split('\n').length, 1, out);
      assert.match(r.stdout, / info stopped\n$/, out);
    } finally {
      await release();
    }
  }),
);

const withOpenssl = requireTool(test, 'openssl');

for (const type of ['tls', 'wss'] as const) {
  withOpenssl(`${type} listener on a busy port: one line naming listeners[2], exit 4`, async () => {
    const certDir = mkdtempSync(join(tmpdir(), 'wharf-start-tls-'));
    const [cert, key] = [join(certDir, 'cert.pem'), join(certDir, 'key.pem')];
    const busy = await freePort();
    const release = await occupy(busy);
    try {
      const made = await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], 20000);
      assert.is(made.code, 0, made.stderr);
      // The workspace's file lists tcp and ws; the secure listener comes third.
      const secure = `  - { type: ${type}, host: 127.0.0.1, port: ${busy}, path: /mqtt, cert: ${JSON.stringify(cert)}, key: ${JSON.stringify(key)} }\n`;
      await withWorkspace('', async (ws) => {
        writeFileSync(ws.configPath, readFileSync(ws.configPath, 'utf8').replace(/(path: \/mqtt \}\n)/, `$1${secure}`));
        const r = await runWharf([...ws.args(await freePort(), await freePort()), ...INFO], { timeoutMs: EXIT_WITHIN_MS });
        assertListenerRefused(r, 'listeners[2]', type, busy);
      });
    } finally {
      await release();
      rmSync(certDir, { recursive: true, force: true });
    }
  });
}

test('--data /proc/x: an error naming the directory within seconds, exit 3, not a hang in mkdir', () =>
  withWorkspace('', async (ws) => {
    const r = await runWharf([...ws.args(await freePort(), await freePort(), '/proc/wharf-data-x')], { timeoutMs: EXIT_WITHIN_MS });
    const out = `\n${r.stdout}${r.stderr}`;
    assert.is(r.timedOut, false, `exits by itself within ${EXIT_WITHIN_MS} ms${out}`);
    assert.is(r.code, EXIT_DATA_DIR, out);
    assert.match(r.stderr, /^wharf: cannot use data directory \/proc\/wharf-data-x: cannot create \/proc\/wharf-data-x: \/proc does not take new directories/);
    assert.is(r.stderr.trimEnd().split('\n').length, 1, out);
  }),
);

test('a nested data directory that does not exist yet is created, parents included', () =>
  withWorkspace('', async (ws) => {
    const nested = join(ws.dir, 'a', 'b', 'c');
    const broker = await ws.start({ dataDir: nested });
    try {
      assert.ok(existsSync(join(nested, 'wharf.pid')), 'the broker runs on the new directory');
    } finally {
      assert.equal(await broker.stop(), { code: 0, signal: null });
    }
  }),
);

test('stdout closed while running (wharf start | head -1): the broker keeps serving, counts the failed log writes, exits 0', () =>
  withWorkspace('', async (ws) => {
    const [port, wsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(process.execPath, [WHARF_MAIN, ...ws.args(port, wsPort, undefined, adminPort), ...INFO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    try {
      // Like `head -1`: read until the first line has come, then close the pipe.
      await new Promise<void>((resolve, reject) => {
        let text = '';
        const timer = setTimeout(() => reject(new Error(`no output within ${EXIT_WITHIN_MS} ms; stderr: ${stderr}`)), EXIT_WITHIN_MS);
        child.stdout!.on('data', (d) => {
          text += d;
          if (text.includes(' listening ') && text.includes('admin listening')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.stdout!.destroy();
      // Every connect and disconnect writes a log line into the closed pipe.
      for (let i = 0; i < 3; i++) await endClient(await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: `epipe-${i}`, reconnectPeriod: 0 }));
      const sub = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'epipe-sub', reconnectPeriod: 0 });
      const inbox = collect(sub);
      await sub.subscribeAsync('epipe/#', { qos: 1 });
      const pub = await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: 'epipe-pub', reconnectPeriod: 0 });
      await pub.publishAsync('epipe/still-here', 'yes', { qos: 1 });
      await inbox.waitCount(1);
      await Promise.all([endClient(pub), endClient(sub)]);
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      const m = /^wharf_log_write_errors_total (\d+)$/m.exec(metrics);
      assert.ok(m !== null, `wharf_log_write_errors_total in /metrics:\n${metrics.slice(0, 400)}`);
      assert.ok(Number(m![1]) > 0, `failed log writes counted: ${m![0]}`);
      assert.is(child.exitCode, null, `still running; stderr: ${stderr}`);
      child.kill('SIGTERM');
      assert.equal(await exited, { code: 0, signal: null }, `clean exit after SIGTERM; stderr: ${stderr}`);
      assert.not.match(stderr, /EPIPE/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  }),
);

requireTool(test, 'bash', 'head')('the literal `wharf start | head -1`: head takes the first line and leaves, the broker serves on and exits 0 on SIGTERM', () =>
  withWorkspace('', async (ws) => {
    const [port, adminPort] = [await freePort(), await freePort()];
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const wharf = [process.execPath, WHARF_MAIN, ...ws.args(port, await freePort(), undefined, adminPort), ...INFO].map(quote).join(' ');
    // PIPESTATUS[0]: the broker's own exit code, which the pipeline's status (head's) would hide.
    const shell = spawn('bash', ['-c', `${wharf} | head -1; echo "wharf exit \${PIPESTATUS[0]}" >&2`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    shell.stdout!.on('data', (d) => (out += d));
    shell.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => shell.on('close', () => resolve()));
    const pidFile = join(ws.dataDir, 'wharf.pid');
    try {
      const deadline = Date.now() + EXIT_WITHIN_MS;
      while (!(existsSync(pidFile) && (await fetch(`http://127.0.0.1:${adminPort}/healthz`).then((r) => r.ok, () => false)))) {
        assert.ok(Date.now() < deadline, `the broker did not become ready; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(out, /^\S+ info starting /, 'head printed the first line');
      // Log lines (connect, disconnect) now go into a pipe nobody reads.
      for (let i = 0; i < 3; i++) await endClient(await connectClient(`mqtt://127.0.0.1:${port}`, { clientId: `head-${i}`, reconnectPeriod: 0 }));
      const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
      assert.ok(Number(/^wharf_log_write_errors_total (\d+)$/m.exec(metrics)?.[1]) > 0, 'failed writes counted');
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      await exited;
      assert.match(out, /wharf exit 0\n$/, `the broker exited 0; output:\n${out}`);
    } finally {
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (shell.exitCode === null) shell.kill('SIGKILL');
      await exited;
    }
  }),
);

test.run();
