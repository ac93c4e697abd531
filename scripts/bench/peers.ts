// Start/stop the brokers under test as child processes on free loopback ports,
// so that each broker's RSS / CPU can be read from /proc/<pid>.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { HEAP_FILE_ENV } from './heap-sampler.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_MALLOC_ENV } from '../../src/cli/malloc-env.js';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { readStoreWrittenBytes, type StoreWritten } from './store-counters.js';
import { prepareRabbitmq, rabbitmqUnavailableReason, RABBITMQ_BROKER_ARGV0, RABBITMQ_START_TIMEOUT_MS } from './rabbitmq-peer.js';

/**
 * The glibc malloc settings npm start gives the broker (src/cli/malloc-env.ts), for a Wharf child: a value in the
 * bench's own environment wins, and WHARF_BENCH_MALLOC_ENV=0 runs Wharf with glibc's defaults.
 */
export function wharfBenchMallocEnv(): Record<string, string> {
  if (process.env.WHARF_BENCH_MALLOC_ENV === '0') return {};
  // Given explicitly, the bench's own value included: the service environment (brokerEnvironment) inherits nothing.
  return Object.fromEntries(Object.entries(EMBEDDED_MALLOC_ENV).map(([k, v]) => [k, process.env[k] || v]));
}

/**
 * The environment every broker is started with (WHARF_BENCH_ENV): `service` (the default) gives what a gateway's
 * service gets, `shell` this process's whole environment plus NODE_ENV=production (the bench before issue 13).
 * The unit (scripts/install/wharf.service) has no Environment= line, and a system service inherits neither the
 * login shell's environment nor /etc/environment (no PAMName=): systemd.exec(5) gives it PATH (systemd's default),
 * LANG (the system locale), USER, LOGNAME, HOME and SHELL of User=, and its own INVOCATION_ID, JOURNAL_STREAM and
 * STATE_DIRECTORY, none of which Node or a broker reads. The launcher (/usr/bin/wharf) adds the malloc settings
 * (wharfBenchMallocEnv). What matters: a shell here sets NODE_EXTRA_CA_CERTS, and every node process then parses that
 * CA bundle at start (about 1.8 MB of RSS, issue 13); a gateway's service never does.
 */
export type BenchEnvironment = 'service' | 'shell';

/** systemd's PATH for services (systemd.exec(5), "Environment Variables in Spawned Processes"). */
export const SERVICE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

/** WHARF_BENCH_ENV: `service` unless set to `shell`; anything else is refused. */
export function benchEnvironmentMode(value = process.env.WHARF_BENCH_ENV): BenchEnvironment {
  if (value === undefined || value === '' || value === 'service') return 'service';
  if (value === 'shell') return 'shell';
  throw new Error(`WHARF_BENCH_ENV: expected service or shell; got ${JSON.stringify(value)}`);
}

/** The variables systemd gives the service: PATH, and LANG, USER, LOGNAME, HOME, SHELL where `shell` has them. */
export function serviceEnvironment(shell: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { PATH: SERVICE_PATH };
  for (const name of ['LANG', 'USER', 'LOGNAME', 'HOME', 'SHELL']) {
    const value = shell[name];
    if (value !== undefined && value !== '') env[name] = value;
  }
  return env;
}

/** A broker's whole environment: the mode's base, then the peer's own variables (malloc settings, sampler file). */
export function brokerEnvironment(extra: Record<string, string> = {}, mode = benchEnvironmentMode(), shell: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const base = mode === 'service' ? serviceEnvironment(shell) : { ...shell, NODE_ENV: 'production' };
  return { ...base, ...extra };
}

export type PeerName = 'wharf' | 'aedes' | 'mosquitto' | 'rabbitmq';
export const ALL_PEERS: readonly PeerName[] = ['wharf', 'aedes', 'mosquitto', 'rabbitmq'];
/** Run when --only is not given. RabbitMQ boots for 5-20 s per scenario: opt in with --only ...,rabbitmq. */
export const DEFAULT_PEERS: readonly PeerName[] = ['wharf', 'aedes', 'mosquitto'];

const HERE = path.dirname(fileURLToPath(import.meta.url)); // dist/scripts/bench
export const REPO_ROOT = path.resolve(HERE, '../../..');
const WHARF_CLI = path.join(REPO_ROOT, 'dist/src/cli/main.js');
/** Wharf's CLI with the opt-in memory sampler (StartOptions.sampleHeap). */
const WHARF_HEAP_WRAPPER = path.join(HERE, 'wharf-heap.js');
const AEDES_SERVER = path.join(HERE, 'aedes-server.js');
const MOSQUITTO_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

const START_TIMEOUT_MS = 15_000;

/** Settings of the durable configuration (StartOptions.durable). */
export const WHARF_DURABLE = { commitIntervalMs: 5, maxQueuedMessages: 200_000 } as const;
export const MOSQUITTO_DURABLE = { maxQueuedMessages: 200_000 } as const;
const STOP_TIMEOUT_MS = 5_000;

/** How a peer is started. */
export interface StartOptions {
  /**
   * Durable configuration (scenarios 4 and 5): Wharf with `mqtt.maxQueuedMessages: 200000` and
   * `storage.commitIntervalMs: 5`; Mosquitto with persistence on and `max_queued_messages 200000`;
   * Aedes unchanged (its default persistence is in memory).
   */
  durable?: boolean;
  /**
   * Run the broker under `strace -f --seccomp-bpf -e trace=<SYNC_SYSCALLS>` to count sync system calls.
   * seccomp-bpf stops the broker only on those calls, so the overhead is one BPF filter run per syscall.
   * Ignored (with `syncTraceError` set) when strace is missing or does not work.
   */
  traceSyncs?: boolean;
  /** Wharf: extra top-level YAML lines appended to its configuration file (e.g. a `queues:` section). */
  wharfYaml?: string[];
  /** Wharf: extra lines inside its `storage:` section, indented (e.g. `  payloadStore: js`). */
  wharfStorage?: string[];
  /**
   * Mosquitto: the settings after `allow_anonymous true`, replacing the plain/durable ones. Gets the
   * persistence directory (created beforehand) and the `user root` line needed when run as root (or []).
   */
  mosquittoConf?: (dataDir: string, userLines: string[]) => string[];
  /**
   * Node.js brokers (Wharf through wharf-heap.js, Aedes): sample process.memoryUsage() every 250 ms into
   * <tmpdir>/heap.log, read back with RunningPeer.memorySamples().
   */
  sampleHeap?: boolean;
}

/** One process.memoryUsage() sample of the broker (bytes; t = Date.now()). */
export interface MemorySample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** highest heapUsed right after a major GC since the previous sample; -1 if none */
  afterMajorGc: number;
}

/** The system calls counted as "fsyncs". LMDB also writes its meta page through an O_DSYNC descriptor: not counted. */
export const SYNC_SYSCALLS = ['fsync', 'fdatasync', 'syncfs', 'sync_file_range', 'msync'] as const;

export interface RunningPeer {
  readonly name: PeerName;
  /** pid of the broker process itself (not of strace); changes on restart() */
  readonly pid: number;
  readonly port: number;
  /** null if sync syscalls are being counted, else why not (or 'not requested'). */
  readonly syncTraceError: string | null;
  /** Number of sync system calls (SYNC_SYSCALLS) made by the broker (all threads) with wall time in [fromMs, toMs] (Date.now() clock). null if not traced. */
  syncCalls(fromMs: number, toMs: number): number | null;
  /** write_bytes of /proc/<pid>/io: bytes this process caused to be sent to the storage layer (NaN if unavailable). */
  writeBytes(): number;
  /** Wharf: the bytes its store wrote since start (admin API, store-counters.ts); null for the other peers or if unreadable. */
  storeWrittenBytes(): Promise<StoreWritten | null>;
  /** VmRSS of the broker process in bytes (0 if unavailable). */
  rssBytes(): number;
  /** RssAnon of the broker process in bytes (RSS without file-backed pages such as LMDB's map; 0 if unavailable). */
  rssAnonBytes(): number;
  /** utime+stime of the broker process in seconds. */
  cpuSeconds(): number;
  /** The broker's own memory samples with t in [fromMs, toMs] (StartOptions.sampleHeap), else null. */
  memorySamples(fromMs?: number, toMs?: number): MemorySample[] | null;
  /** true if the process has exited (crashed) */
  exited(): boolean;
  /** tail of the process's stdout/stderr */
  output(): string;
  /** SIGKILL the broker process (power-cut stand-in) and wait for it to exit. Keeps its data directory. */
  crash(): Promise<void>;
  /** Start the broker again with the same configuration, port and data directory (after crash()). */
  restart(): Promise<void>;
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

/** RssAnon of the process in bytes: RSS without file-backed pages (LMDB's memory map counts in VmRSS). 0 if unavailable. */
export function readRssAnonBytes(pid: number): number {
  try {
    const m = /RssAnon:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function readWriteBytes(pid: number): number {
  try {
    const m = /^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Descendants of a process, nearest first. */
function descendantPids(pid: number): number[] {
  const out: number[] = [];
  for (let i = -1, next = pid; ; next = out[++i]!) {
    out.push(...childPids(next));
    if (i + 1 >= out.length) return out;
  }
}

/** Direct children of a process (Linux 3.5+ with CONFIG_PROC_CHILDREN). */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function cmdlineArgv0(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0', 1)[0] ?? null;
  } catch {
    return null;
  }
}

function findStrace(): string | null {
  for (const p of ['/usr/bin/strace', '/bin/strace', '/usr/local/bin/strace']) if (existsSync(p)) return p;
  return null;
}

let straceProbe: string | null | undefined;
/** null if `strace -f --seccomp-bpf` works here, else why not. Probed once. */
export function straceUnavailableReason(): string | null {
  if (straceProbe !== undefined) return straceProbe;
  const bin = findStrace();
  if (!bin) return (straceProbe = 'strace not installed (apt-get install -y strace)');
  const r = spawnSync(bin, ['-f', '--seccomp-bpf', '-qq', '-e', 'trace=fsync', '-o', '/dev/null', process.execPath, '-e', '0'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  straceProbe = r.status === 0 ? null : `strace does not work here: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim().slice(0, 200)}`;
  return straceProbe;
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
  traceSyncs: boolean;
  /** extra environment variables of the broker */
  env?: Record<string, string>;
  /** file written by heap-sampler.ts in the broker, if sampling */
  heapFile?: string;
  /**
   * The broker is the descendant with this argv[0] basename (a start script forks it), not the process spawned:
   * RSS, CPU, /proc/<pid>/io and signals go to it. Default: the spawned command (or strace's child running it).
   */
  brokerArgv0?: string;
  /** How long the port may take to accept connections (default START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Wharf: the port of its admin API, for storeWrittenBytes(). */
  adminPort?: number;
  /** Runs after the broker has stopped for good (its helpers, e.g. RabbitMQ's epmd). */
  afterStop?: () => void;
}

interface Incarnation {
  child: ChildProcess;
  /** pid of the broker (the child itself, or strace's child) */
  pid: number;
  straceFile: string | null;
  exitInfo: string | null;
  exitPromise: Promise<void>;
}

async function spawnPeer(spec: SpawnSpec): Promise<RunningPeer> {
  let out = '';
  const append = (d: Buffer) => {
    out += d.toString();
    if (out.length > 8192) out = out.slice(-8192);
  };
  const straceError = spec.traceSyncs ? straceUnavailableReason() : 'not requested';
  const straceFiles: string[] = [];
  let incarnations = 0;

  const launch = async (): Promise<Incarnation> => {
    let cmd = spec.cmd;
    let args = spec.args;
    let straceFile: string | null = null;
    if (straceError === null) {
      straceFile = path.join(spec.tmpDir, `strace-${incarnations}.txt`);
      straceFiles.push(straceFile);
      // -ttt: epoch timestamps, so calls can be counted per measurement window
      args = ['-f', '--seccomp-bpf', '-qq', '-ttt', '-e', `trace=${SYNC_SYSCALLS.join(',')}`, '-o', straceFile, cmd, ...args];
      cmd = findStrace()!;
    }
    incarnations++;
    const child: ChildProcess = spawn(cmd, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: brokerEnvironment(spec.env),
    });
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    const inc: Incarnation = { child, pid: child.pid ?? -1, straceFile, exitInfo: null, exitPromise: Promise.resolve() };
    inc.exitPromise = new Promise<void>((resolve) => {
      child.once('exit', (code, sig) => {
        inc.exitInfo = `exit code ${code ?? '-'} signal ${sig ?? '-'}`;
        resolve();
      });
      child.once('error', (e) => {
        inc.exitInfo = `spawn error: ${e.message}`;
        resolve();
      });
    });
    if (straceFile !== null && spec.brokerArgv0 === undefined) {
      // The broker is the child of strace that runs spec.cmd (strace may first fork a short-lived probe
      // child of its own, e.g. to test seccomp-bpf support).
      const until = Date.now() + 5000;
      outer: for (;;) {
        for (const kid of childPids(child.pid ?? -1)) {
          if (cmdlineArgv0(kid) === spec.cmd) {
            inc.pid = kid;
            break outer;
          }
        }
        if (inc.exitInfo !== null) break;
        if (Date.now() > until) {
          for (const kid of childPids(child.pid ?? -1)) process.kill(kid, 'SIGKILL');
          child.kill('SIGKILL');
          throw new Error(`${spec.name}: could not find the broker process under strace (pid ${child.pid})`);
        }
        await sleep(5);
      }
    }
    if (spec.brokerArgv0 !== undefined) {
      const until = Date.now() + 10_000;
      for (;;) {
        const kid = descendantPids(child.pid ?? -1).find((k) => path.basename(cmdlineArgv0(k) ?? '') === spec.brokerArgv0);
        if (kid !== undefined) {
          inc.pid = kid;
          break;
        }
        if (inc.exitInfo !== null) break;
        if (Date.now() > until) {
          for (const k of descendantPids(child.pid ?? -1)) process.kill(k, 'SIGKILL');
          child.kill('SIGKILL');
          throw new Error(`${spec.name}: no ${spec.brokerArgv0} process under ${spec.cmd} (pid ${child.pid})`);
        }
        await sleep(20);
      }
    }
    return inc;
  };

  let cur = await launch();

  const cleanup = async () => {
    spec.afterStop?.();
    await rm(spec.tmpDir, { recursive: true, force: true });
  };

  /** Signals go to the broker itself; strace (if any) exits by itself once its tracee has exited. */
  const signalBroker = (inc: Incarnation, sig: NodeJS.Signals) => {
    if (inc.exitInfo !== null) return;
    try {
      process.kill(inc.pid, sig);
    } catch {
      /* already gone */
    }
  };

  /** Waits for the child (strace or broker) to exit; SIGKILLs the broker, then strace, if it takes too long. */
  const awaitExit = async (inc: Incarnation, killAfterMs: number): Promise<void> => {
    const t1 = setTimeout(() => signalBroker(inc, 'SIGKILL'), killAfterMs);
    const t2 = setTimeout(() => inc.exitInfo === null && inc.child.kill('SIGKILL'), killAfterMs + 2000);
    await inc.exitPromise;
    clearTimeout(t1);
    clearTimeout(t2);
  };

  const stopIncarnation = async (inc: Incarnation): Promise<void> => {
    if (inc.exitInfo === null) {
      signalBroker(inc, 'SIGTERM');
      await awaitExit(inc, STOP_TIMEOUT_MS);
    }
  };

  const stop = async (): Promise<void> => {
    await stopIncarnation(cur);
    await cleanup();
  };

  const waitReady = async (inc: Incarnation): Promise<void> => {
    // readiness: the port accepts TCP connections
    const timeoutMs = spec.startTimeoutMs ?? START_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (inc.exitInfo !== null) {
        throw new Error(`${spec.name} exited during startup (${inc.exitInfo}). Output:\n${out.trim().slice(-2000)}`);
      }
      if (await tryConnect(spec.port)) break;
      if (Date.now() > deadline) {
        await stopIncarnation(inc);
        throw new Error(`${spec.name} did not accept connections on port ${spec.port} within ${timeoutMs} ms. Output:\n${out.trim().slice(-2000)}`);
      }
      await sleep(50);
    }
  };

  try {
    await waitReady(cur);
  } catch (e) {
    await cleanup();
    throw e;
  }

  const syncCalls = (fromMs: number, toMs: number): number | null => {
    if (straceError !== null) return null;
    const re = new RegExp(`^\\d+\\s+(\\d+\\.\\d+) (?:${SYNC_SYSCALLS.join('|')})\\(`);
    let n = 0;
    for (const f of straceFiles) {
      let text = '';
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        const m = re.exec(line);
        if (!m) continue;
        const t = Number(m[1]) * 1000;
        if (t >= fromMs && t <= toMs) n++;
      }
    }
    return n;
  };

  return {
    name: spec.name,
    get pid() {
      return cur.pid;
    },
    port: spec.port,
    syncTraceError: straceError,
    syncCalls,
    writeBytes: () => readWriteBytes(cur.pid),
    storeWrittenBytes: () => (spec.adminPort === undefined ? Promise.resolve(null) : readStoreWrittenBytes(spec.adminPort)),
    rssBytes: () => readRssBytes(cur.pid),
    rssAnonBytes: () => readRssAnonBytes(cur.pid),
    memorySamples: (fromMs = 0, toMs = Infinity) => (spec.heapFile === undefined ? null : readMemorySamples(spec.heapFile, fromMs, toMs)),
    cpuSeconds: () => readCpuSeconds(cur.pid),
    exited: () => cur.exitInfo !== null,
    output: () => out,
    crash: async () => {
      signalBroker(cur, 'SIGKILL');
      await awaitExit(cur, 0);
    },
    restart: async () => {
      if (cur.exitInfo === null) throw new Error('restart() while the broker is running');
      cur = await launch();
      await waitReady(cur);
    },
    stop,
  };
}

function readMemorySamples(file: string, fromMs: number, toMs: number): MemorySample[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: MemorySample[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ').map(Number);
    if (f.length !== 7 || f.some((x) => !Number.isFinite(x))) continue;
    const [t, rss, heapUsed, heapTotal, external, arrayBuffers, afterMajorGc] = f as [number, number, number, number, number, number, number];
    if (t >= fromMs && t <= toMs) out.push({ t, rss, heapUsed, heapTotal, external, arrayBuffers, afterMajorGc });
  }
  return out;
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
    case 'rabbitmq':
      return rabbitmqUnavailableReason();
  }
}

export async function startPeer(name: PeerName, opts: StartOptions = {}): Promise<RunningPeer> {
  const reason = peerUnavailableReason(name);
  if (reason) throw new Error(reason);
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), `bench-${name}-`));
  const port = await freePort();
  const durable = opts.durable ?? false;
  const traceSyncs = opts.traceSyncs ?? false;
  const heapFile = opts.sampleHeap ? path.join(tmpDir, 'heap.log') : undefined;
  try {
    switch (name) {
      case 'wharf': {
        // Loopback only, like the other peers: a configuration file with one tcp listener on 127.0.0.1.
        const conf = path.join(tmpDir, 'wharf.yaml');
        // A free port for the admin API, so benchmark runs side by side do not fight over 18083, known to the runner.
        const ownAdmin = !(opts.wharfYaml ?? []).some((l) => l.startsWith('admin:'));
        const adminPort = ownAdmin ? await freePort() : undefined;
        await writeFile(
          conf,
          [
            'listeners:',
            `  - { type: tcp, host: 127.0.0.1, port: ${port} }`,
            'storage:',
            `  dataDir: ${JSON.stringify(path.join(tmpDir, 'data'))}`,
            ...(opts.wharfStorage ?? []),
            ...(durable ? [`  commitIntervalMs: ${WHARF_DURABLE.commitIntervalMs}`, 'mqtt:', `  maxQueuedMessages: ${WHARF_DURABLE.maxQueuedMessages}`] : []),
            'log:',
            '  level: warn',
            ...(adminPort === undefined ? [] : ['admin:', `  listen: 127.0.0.1:${adminPort}`]),
            ...(opts.wharfYaml ?? []),
            '',
          ].join('\n'),
        );
        // V8/Node flags of the Wharf child: those `npm start` gives (EMBEDDED_NODE_FLAGS), or WHARF_BENCH_NODE_FLAGS
        // instead when set (memory.ts --board sets the board's; an empty value runs node with none).
        const nodeFlags: string[] = (process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' ')).split(/\s+/).filter((f) => f !== '');
        if (process.env.WHARF_BENCH_CPU_PROF === '1') {
          // Opt-in CPU profile of the Wharf child, written when it exits cleanly (not after a SIGKILL).
          const profDir = path.join(REPO_ROOT, '.bench-tmp');
          mkdirSync(profDir, { recursive: true });
          nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
        }
        return await spawnPeer({
          name,
          cmd: process.execPath,
          args: [...nodeFlags, heapFile ? WHARF_HEAP_WRAPPER : WHARF_CLI, 'start', '--config', conf],
          port,
          tmpDir,
          traceSyncs,
          env: { ...wharfBenchMallocEnv(), ...(heapFile ? { [HEAP_FILE_ENV]: heapFile } : {}) },
          ...(heapFile ? { heapFile } : {}),
          ...(adminPort === undefined ? {} : { adminPort }),
        });
      }
      case 'aedes':
        return await spawnPeer({
          name,
          cmd: process.execPath,
          args: [AEDES_SERVER, String(port)],
          port,
          tmpDir,
          traceSyncs,
          ...(heapFile ? { env: { [HEAP_FILE_ENV]: heapFile }, heapFile } : {}),
        });
      case 'mosquitto': {
        const conf = path.join(tmpDir, 'mosquitto.conf');
        await writeFile(
          conf,
          [
            `listener ${port} 127.0.0.1`,
            'allow_anonymous true',
            ...(opts.mosquittoConf
              ? opts.mosquittoConf(path.join(tmpDir, 'data'), process.getuid?.() === 0 ? ['user root'] : [])
              : durable
              ? [
                  // Persistence on; autosave_interval left at its default (1800 s): mosquitto writes
                  // its database periodically and on clean shutdown, not per message.
                  'persistence true',
                  // Started as root (as here), mosquitto drops to user "mosquitto", which cannot write into
                  // the root-owned temp dir: keep the user it was started as.
                  ...(process.getuid?.() === 0 ? ['user root'] : []),
                  `persistence_location ${path.join(tmpDir, 'data')}/`,
                  `max_queued_messages ${MOSQUITTO_DURABLE.maxQueuedMessages}`,
                  // Outgoing QoS 1 window towards the draining v3.1.1 subscriber: no maximum, like Wharf
                  // (65535 for a 3.1.1 client) and Aedes.
                  'max_inflight_messages 0',
                ]
              : [
                  'persistence false',
                  // Outgoing QoS 1 window towards a v3.1.1 subscriber (default 20).
                  // Raised to match the publisher's 64-message window, so no broker
                  // is held to a smaller window than the test uses.
                  'max_inflight_messages 64',
                ]),
            'log_dest stderr',
            'log_type error',
            'log_type warning',
            '',
          ].join('\n'),
        );
        if (durable || opts.mosquittoConf) mkdirSync(path.join(tmpDir, 'data'), { recursive: true });
        return await spawnPeer({ name, cmd: findMosquitto()!, args: ['-c', conf], port, tmpDir, traceSyncs });
      }
      case 'rabbitmq': {
        // Always durable for persistent sessions (quorum queues): the only configuration it is a peer in.
        const launch = await prepareRabbitmq(tmpDir, port, await freePort(), await freePort());
        try {
          return await spawnPeer({
            name,
            cmd: launch.cmd,
            args: launch.args,
            port,
            tmpDir,
            traceSyncs,
            env: launch.env,
            brokerArgv0: RABBITMQ_BROKER_ARGV0,
            startTimeoutMs: RABBITMQ_START_TIMEOUT_MS,
            afterStop: launch.stopEpmd,
          });
        } catch (e) {
          launch.stopEpmd();
          throw e;
        }
      }
    }
  } catch (e) {
    await rm(tmpDir, { recursive: true, force: true });
    throw e;
  }
}
