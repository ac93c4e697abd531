// A bundle's Wharf run under qemu-user on this x86 machine: these machines have no binfmt handler, so the ARM
// node binary is started through qemu-<arch>-static with the cross libc as sysroot (-L). Also the native x64
// bundle, started directly. Start, SIGKILL, SIGTERM, and one-shot commands (status) through the same runner.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, portAccepts, type CliRun, type Exit } from '../helpers/broker-process.js';
import { TARGETS, type PackageArch } from '../../scripts/package/targets.js';

/** Emulated Node starts in about a second and Wharf in 5 s on an idle 2-core machine; 45 s seen under load 16. */
const START_TIMEOUT_MS = 180_000;

/** The command line running `<bundle>/app/<bin.wharf>` with the bundle's node, through qemu for ARM. */
export function bundleCommand(bundleDir: string, arch: PackageArch, args: string[]): [string, string[]] {
  const pkg = JSON.parse(readFileSync(join(bundleDir, 'app', 'package.json'), 'utf8')) as { bin: { wharf: string } };
  const node = join(bundleDir, 'node', 'bin', 'node');
  const entry = join(bundleDir, 'app', pkg.bin.wharf);
  const qemu = TARGETS[arch].qemu;
  if (qemu === undefined || process.arch === TARGETS[arch].nodeArch) return [node, [entry, ...args]];
  return [qemu.binary, ['-L', qemu.sysroot, node, entry, ...args]];
}

export interface EmulatedProcess {
  child: ChildProcess;
  port: number;
  adminPort: number;
  /** Milliseconds from spawn until the MQTT port accepted a connection. */
  startMs: number;
  output(): string;
  exited: Promise<Exit>;
  crash(): Promise<void>;
  stop(): Promise<Exit>;
}

export async function startBundle(bundleDir: string, arch: PackageArch, configPath: string, dataDir: string): Promise<EmulatedProcess> {
  const [port, wsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const args = ['start', '--config', configPath, '--data', dataDir, '--port', String(port), '--ws-port', String(wsPort), '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'info'];
  const [cmd, argv] = bundleCommand(bundleDir, arch, args);
  const started = Date.now();
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let done = false;
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => ((done = true), resolve({ code, signal }))));
  const deadline = started + START_TIMEOUT_MS;
  while (!done && Date.now() < deadline && !(await portAccepts(port))) await new Promise((r) => setTimeout(r, 100));
  if (done || Date.now() >= deadline) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`bundle's wharf start did not accept connections (${done ? 'exited' : 'timeout'}); output:\n${out}`);
  }
  const startMs = Date.now() - started;
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    port,
    adminPort,
    startMs,
    output: () => out,
    exited,
    async crash() {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Runs a one-shot command of the bundle (status, doctor, ...) to its exit. */
export function runBundle(bundleDir: string, arch: PackageArch, args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  const [cmd, argv] = bundleCommand(bundleDir, arch, args);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), timeoutMs);
    child.on('close', (code, signal) => (clearTimeout(timer), resolve({ code, signal, stdout, stderr, timedOut })));
  });
}

/** VmRSS of a process in bytes (for an emulated one: qemu's own memory, the guest's heap and the translated code). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
