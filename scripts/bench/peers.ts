// Start/stop the brokers under test as child processes on free loopback ports,
// so that each broker's RSS / CPU can be read from /proc/<pid>.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type PeerName = 'wharf' | 'aedes' | 'mosquitto';
export const ALL_PEERS: readonly PeerName[] = ['wharf', 'aedes', 'mosquitto'];

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/scripts/bench
export const REPO_ROOT = path.resolve(HERE, '../../..');
const WHARF_CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');
const AEDES_SERVER = path.join(HERE, 'aedes-server.js');
const MOSQUITTO_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface RunningPeer {
  readonly name: PeerName;
  readonly pid: number;
  readonly port: number;
  /** VmRSS of the broker process in bytes (0 if unavailable). */
  rssBytes(): number;
  /** utime+stime of the broker process in seconds. */
  cpuSeconds(): number;
  /** true if the process has exited (crashed) */
  exited(): boolean;
  /** tail of the process's stdout/stderr */
  output(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function readRssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of comm: state is field 3; utime=14, stime=15
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface SpawnSpec {
  name: PeerName;
  cmd: string;
  args: string[];
  port: number;
  tmpDir: string;
}

async function spawnPeer(spec: SpawnSpec): Promise<RunningPeer> {
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 8192) out = out.slice(-8192);
  };
  const child: ChildProcess = spawn(spec.cmd, spec.args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitInfo: string | null = null;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => {
      exitInfo = `exit code ${code ?? '-'} signal ${sig ?? '-'}`;
      resolve();
    });
    child.once('error', (e) => {
      exitInfo = `spawn error: ${e.message}`;
      resolve();
    });
  });

  const cleanup = async () => {
    await rm(spec.tmpDir, { recursive: true, force: true });
  };

  const stop = async (): Promise<void> => {
    if (exitInfo === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (exitInfo === null) child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await exitPromise;
      clearTimeout(t);
    }
    await cleanup();
  };

  // readiness: the port accepts TCP connections
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exitInfo !== null) {
      await cleanup();
      throw new Error(`${spec.name} exited during startup (${exitInfo}). Output:\n${out.trim().slice(-2000)}`);
    }
    if (await tryConnect(spec.port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not accept connections on port ${spec.port} within ${START_TIMEOUT_MS} ms. Output:\n${out.trim().slice(-2000)}`);
    }
    await sleep(50);
  }

  const pid = child.pid!;
  return {
    name: spec.name,
    pid,
    port: spec.port,
    rssBytes: () => readRssBytes(pid),
    cpuSeconds: () => readCpuSeconds(pid),
    exited: () => exitInfo !== null,
    output: () => out,
    stop,
  };
}

function findMosquitto(): string | null {
  for (const p of MOSQUITTO_CANDIDATES) if (existsSync(p)) return p;
  return null;
}

/** Returns null if the peer can be started, else the reason it can't. */
export function peerUnavailableReason(name: PeerName): string | null {
  switch (name) {
    case 'wharf':
      return existsSync(WHARF_CLI) ? null : `Wharf CLI not built (${path.relative(REPO_ROOT, WHARF_CLI)} missing)`;
    case 'aedes':
      return existsSync(AEDES_SERVER) ? null : `${AEDES_SERVER} missing (build first)`;
    case 'mosquitto':
      return findMosquitto() ? null : 'mosquitto binary not found (apt-get install mosquitto)';
  }
}

export async function startPeer(name: PeerName): Promise<RunningPeer> {
  const reason = peerUnavailableReason(name);
  if (reason) throw new Error(reason);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `bench-${name}-`));
  const port = await freePort();
  try {
    switch (name) {
      case 'wharf': {
        let wsPort = await freePort();
        while (wsPort === port) wsPort = await freePort();
        return await spawnPeer({
          name,
          cmd: process.execPath,
          args: [WHARF_CLI, 'start', '--port', String(port), '--ws-port', String(wsPort), '--data', tmpDir, '--log-level', 'warn'],
          port,
          tmpDir,
        });
      }
      case 'aedes':
        return await spawnPeer({ name, cmd: process.execPath, args: [AEDES_SERVER, String(port)], port, tmpDir });
      case 'mosquitto': {
        const conf = path.join(tmpDir, 'mosquitto.conf');
        await writeFile(
          conf,
          [
            `listener ${port} 127.0.0.1`,
            'allow_anonymous true',
            'persistence false',
            // Outgoing QoS 1 window towards a v3.1.1 subscriber (default 20).
            // Raised to match the publisher's 64-message window, so no broker
            // is held to a smaller window than the test uses.
            'max_inflight_messages 64',
            'log_dest stderr',
            'log_type error',
            'log_type warning',
            '',
          ].join('\n'),
        );
        return await spawnPeer({ name, cmd: findMosquitto()!, args: ['-c', conf], port, tmpDir });
      }
    }
  } catch (e) {
    await rm(tmpDir, { recursive: true, force: true });
    throw e;
  }
}
