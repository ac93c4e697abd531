// The built `wharf` CLI as a child process for end-to-end durability tests: a workspace (config file + data
// directory) that outlives broker processes, starting a broker on free loopback ports and waiting until it
// accepts connections, SIGKILL (crash) and SIGTERM (graceful stop), and running `wharf start` to completion
// for the cases where it must refuse to start.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers/broker-process.js -> dist/src/cli/main.js */
export const WHARF_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

/** A port that was free a moment ago (bound to 0 on loopback, then released). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** True if a TCP connection to 127.0.0.1:port is accepted (closed again at once). */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
  /** Killed after the time limit: it hung (or kept serving). */
  timedOut: boolean;
}

/**
 * Runs the built `wharf` with `args` to its exit (SIGKILL after `timeoutMs`), without the WHARF_* variables of
 * the test's own environment unless `env` sets them.
 */
export function runWharf(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('WHARF_')) delete env[k];
  Object.assign(env, opts.env);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WHARF_MAIN, ...args], { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), opts.timeoutMs ?? 15_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** One running `wharf start`. */
export interface WharfProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly wsPort: number;
  /** The admin HTTP API's port (127.0.0.1). */
  readonly adminPort: number;
  readonly url: string;
  output(): string;
  readonly exited: Promise<Exit>;
  running(): boolean;
  /** SIGKILL: no shutdown code runs, as on a power cut. Resolves once the process is gone. */
  crash(): Promise<void>;
  /** SIGTERM and wait for the exit (SIGKILL after STOP_TIMEOUT_MS); resolves with the exit code. */
  stop(): Promise<Exit>;
}

export interface RunResult extends Exit {
  output: string;
  /** The process was still running after the time limit and was killed. */
  timedOut: boolean;
  elapsedMs: number;
}

export interface SpawnOptions {
  /** Run the broker as this user (only possible when the tests run as root), e.g. 65534 (nobody). */
  uid?: number;
  gid?: number;
  /** Data directory; the workspace's by default. */
  dataDir?: string;
  /** --log-level; warn by default (debug with WHARF_TEST_LOG), info where a test reads the start-up lines. */
  logLevel?: string;
  /** Flags for node itself, before the script (as package.json's start script gives them). */
  nodeArgs?: string[];
  /** Extra environment variables of the broker process. */
  env?: Record<string, string>;
}

/**
 * A temp directory holding a configuration file (loopback listeners, generous queue limits) and the data
 * directory, kept across broker restarts. `dispose()` kills any broker still running and removes everything.
 */
export class Workspace {
  readonly dir: string;
  readonly dataDir: string;
  readonly configPath: string;
  private readonly children = new Set<ChildProcess>();

  private constructor(mqtt: Record<string, number>, extraYaml: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'wharf-durability-'));
    this.dataDir = join(this.dir, 'data');
    this.configPath = join(this.dir, 'wharf.yaml');
    const limits = Object.entries(mqtt).map(([k, v]) => `  ${k}: ${v}\n`).join('');
    // The ports here are replaced by --port/--ws-port on every start; the hosts keep the broker on loopback.
    writeFileSync(
      this.configPath,
      'listeners:\n  - { type: tcp, host: 127.0.0.1, port: 1883 }\n  - { type: ws, host: 127.0.0.1, port: 8083, path: /mqtt }\n' +
        (limits ? `mqtt:\n${limits}` : '') +
        extraYaml,
    );
  }

  /**
   * `mqtt` limits go into the config file. The default lifts maxQueuedMessages far above what a test publishes:
   * the in-memory limit of 1000 would otherwise drop acknowledged messages for an offline subscriber.
   * `extraYaml` is appended to the file as it is: further top-level sections, e.g. `queues:`.
   */
  static create(mqtt: Record<string, number> = { maxQueuedMessages: 1_000_000 }, extraYaml = ''): Workspace {
    return new Workspace(mqtt, extraYaml.length > 0 && !extraYaml.endsWith('\n') ? extraYaml + '\n' : extraYaml);
  }

  /** Lets another user (see SpawnOptions.uid) reach the config file and the data directory's parent. */
  openToOthers(): void {
    chmodSync(this.dir, 0o755);
    chmodSync(this.configPath, 0o644);
  }

  /** Without an admin port the admin API takes any free one: brokers of parallel test runs never clash on 18083. */
  args(port: number, wsPort: number, dataDir = this.dataDir, adminPort = 0, logLevel?: string): string[] {
    const level = logLevel ?? (process.env.WHARF_TEST_LOG ? 'debug' : 'warn');
    return ['start', '--config', this.configPath, '--port', String(port), '--ws-port', String(wsPort), '--data', dataDir, '--log-level', level, '--admin', `127.0.0.1:${adminPort}`];
  }

  private spawnWharf(args: string[], opts: SpawnOptions) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['WHARF_PORT', 'WHARF_WS_PORT', 'WHARF_DATA_DIR', 'WHARF_LOG_LEVEL', 'WHARF_CONFIG']) delete env[k];
    Object.assign(env, opts.env);
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), WHARF_MAIN, ...args], {
      env,
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {}),
    });
    this.children.add(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<Exit>((resolve) =>
      child.on('close', (code, signal) => {
        this.children.delete(child);
        resolve({ code, signal });
      }),
    );
    return { child, exited, output: () => out };
  }

  /** Starts `wharf start` on fresh free ports and resolves once its MQTT port accepts connections. */
  async start(opts: SpawnOptions = {}): Promise<WharfProcess> {
    for (let attempt = 1; ; attempt++) {
      const [port, wsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
      const p = this.spawnWharf(this.args(port, wsPort, opts.dataDir, adminPort, opts.logLevel), opts);
      let done = false;
      p.exited.then(() => (done = true));
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!done && Date.now() < deadline && !(await portAccepts(port))) await new Promise((r) => setTimeout(r, 20));
      if (!done && Date.now() < deadline) return this.handle(p, port, wsPort, adminPort);
      if (!done) p.child.kill('SIGKILL');
      const exit = await p.exited;
      // Another process may have taken a port between freePort() and the broker's bind: try new ones.
      if (/already in use/.test(p.output()) && attempt < 3) continue;
      const why = done ? `exited (code ${exit.code}, signal ${exit.signal})` : `did not accept connections within ${START_TIMEOUT_MS} ms`;
      throw new Error(`wharf start ${why}; output:\n${p.output()}`);
    }
  }

  private handle(p: ReturnType<Workspace['spawnWharf']>, port: number, wsPort: number, adminPort: number): WharfProcess {
    const { child, exited, output } = p;
    const running = () => child.exitCode === null && child.signalCode === null;
    return {
      child,
      port,
      wsPort,
      adminPort,
      url: `mqtt://127.0.0.1:${port}`,
      output,
      exited,
      running,
      async crash() {
        if (running()) child.kill('SIGKILL');
        await exited;
      },
      async stop() {
        if (running()) child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        const exit = await exited;
        clearTimeout(timer);
        return exit;
      },
    };
  }

  /**
   * Runs `wharf start` expecting it to refuse: resolves when it exits by itself, or kills it after `timeoutMs`
   * (timedOut: true: it hung, or started serving).
   */
  async run(timeoutMs: number, opts: SpawnOptions = {}): Promise<RunResult> {
    const started = Date.now();
    const p = this.spawnWharf(this.args(await freePort(), await freePort(), opts.dataDir), opts);
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), p.child.kill('SIGKILL')), timeoutMs);
    const exit = await p.exited;
    clearTimeout(timer);
    return { ...exit, output: p.output(), timedOut, elapsedMs: Date.now() - started };
  }

  /** A directory inside the workspace (e.g. a second data directory). */
  subdir(name: string): string {
    const d = join(this.dir, name);
    mkdirSync(d, { recursive: true });
    return d;
  }

  async dispose(): Promise<void> {
    const left = [...this.children];
    for (const c of left) c.kill('SIGKILL');
    await Promise.all(left.map((c) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('close', () => resolve())))));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
