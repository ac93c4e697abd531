// Processes of the bridge catch-up bench: the upstream Mosquitto, the two gateways (a `wharf start` with a bridge,
// Mosquitto 2.0 configured as a bridge), the forked counter and ceiling peer, and their CPU from /proc.

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { freePort, readCpuSeconds, wharfBenchMallocEnv } from './peers.js';

const WHARF_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The same CLI with alloc-profile.ts's allocation profile when BENCH_ALLOC_PROFILE=<file> is set (with --crash: of the drain only). */
const WHARF_PROFILED_MAIN = fileURLToPath(new URL('./wharf-heap.js', import.meta.url));
const MOSQUITTO = '/usr/sbin/mosquitto';
export const COUNTER_MAIN = fileURLToPath(new URL('./bridge-catchup-counter.js', import.meta.url));
export const CEILING_MAIN = fileURLToPath(new URL('./bridge-catchup-ceiling.js', import.meta.url));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Started {
  child: ChildProcess;
  port: number;
  output: () => string;
}

function startProcess(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out = (out + d).slice(-4000)));
  child.stderr!.on('data', (d) => (out = (out + d).slice(-4000)));
  return { child, output: () => out };
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function waitPort(port: number, what: string, output: () => string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await accepts(port)) return;
    await sleep(20);
  }
  throw new Error(`${what} did not start: ${output()}`);
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((r) => child.once('close', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
}

/** The upstream: Mosquitto without persistence or queue limits; `extra` lines are added to its configuration. */
export async function startUpstream(dir: string, extra: string[]): Promise<Started> {
  const port = await freePort();
  const conf = join(dir, 'upstream.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'max_queued_messages 0', 'max_inflight_messages 0', ...extra, ''].join('\n'));
  const p = startProcess(MOSQUITTO, ['-c', conf], dir);
  await waitPort(port, 'upstream mosquitto', p.output);
  return { ...p, port };
}

export async function startWharf(dir: string, proxyPort: number, inflight: number, given?: number): Promise<Started> {
  const port = given ?? (await freePort());
  const config = join(dir, 'wharf.yaml');
  writeFileSync(
    config,
    `listeners:\n  - { type: tcp, host: 127.0.0.1, port: ${port} }\nbridges:\n  - name: cloud\n    url: mqtt://127.0.0.1:${proxyPort}\n` +
      `    clientId: gw-wharf\n    reconnectMinDelay: 200ms\n    reconnectMaxDelay: 1s\n    forward:\n      - { filter: bench/#, qos: 1 }\n` +
      `    outbox: { maxMessages: 0, maxBytes: 4GiB, inflight: ${inflight} }\n`,
  );
  // npm start's node flags unless WHARF_BENCH_NODE_FLAGS; BENCH_WHARF_NODE_ARGS adds more (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const flags = (process.env.WHARF_BENCH_NODE_FLAGS ?? EMBEDDED_NODE_FLAGS.join(' ')).split(/\s+/).filter(Boolean);
  const extra = (process.env.BENCH_WHARF_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const main = process.env.BENCH_ALLOC_PROFILE ? WHARF_PROFILED_MAIN : WHARF_MAIN;
  const args = [...flags, ...extra, main, 'start', '--config', config, '--port', String(port), '--data', join(dir, 'data'), '--log-level', 'warn', '--admin', '127.0.0.1:0'];
  const p = startProcess(process.execPath, args, dir, wharfBenchMallocEnv());
  await waitPort(port, 'wharf', p.output);
  return { ...p, port };
}

/** Mosquitto as a bridge, with persistence on, a persistent upstream session and no queue limits (0 = none). */
export async function startMosquittoBridge(dir: string, proxyPort: number, inflight: number, given?: number): Promise<Started> {
  const port = given ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\n` +
      `max_queued_messages 0\nmax_queued_bytes 0\nmax_inflight_messages ${inflight}\n` +
      `connection cloud\naddress 127.0.0.1:${proxyPort}\ntopic bench/# out 1\ncleansession false\nclientid gw-mosquitto\n` +
      `restart_timeout 1\ntry_private false\n`,
  );
  const p = startProcess(MOSQUITTO, ['-c', conf], dir);
  await waitPort(port, 'mosquitto bridge', p.output);
  return { ...p, port };
}

/** A forked helper script; resolves once it sent { type: 'ready' }. */
export async function forkReady(main: string, args: string[]): Promise<ChildProcess> {
  const child = fork(main, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${main} not ready within 60 s`)), 60_000);
    child.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'ready') (clearTimeout(timer), resolve());
      else if (m.type === 'error') (clearTimeout(timer), reject(new Error(`${main}: ${m.message}`)));
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${main} exited with ${code}`))));
  });
  return child;
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU seconds (user + system) of a process and its descendants (a launcher's broker child counts). */
export function treeCpuSeconds(pid: number): number {
  let total = readCpuSeconds(pid);
  for (const child of childPids(pid)) total += treeCpuSeconds(child);
  return total;
}

/** Read- and write-type system calls of a process so far (/proc/<pid>/io syscr, syscw); zeros if unreadable. */
export function readSyscalls(pid: number): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { reads: Number(/^syscr:\s+(\d+)/m.exec(io)?.[1] ?? 0), writes: Number(/^syscw:\s+(\d+)/m.exec(io)?.[1] ?? 0) };
  } catch {
    return { reads: 0, writes: 0 };
  }
}
