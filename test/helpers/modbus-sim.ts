// A Modbus device simulator for tests: test/helpers/modbus_sim.py (Debian's pymodbus 3.0 server) run with
// /usr/bin/python3, over TCP on a loopback port or over RTU on one end of a socat pty pair (PtyPair below).
// The test drives it through line-based JSON on the child's stdin/stdout (commands listed in the script).

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'uvu';
import { requireAvailable, requireTool, waitFor, type ConditionalTest } from './tools.js';

/** The script stays in test/helpers (tsc does not copy it): from dist/test/helpers, three levels up. */
export const SIM_SCRIPT = fileURLToPath(new URL('../../../test/helpers/modbus_sim.py', import.meta.url));
/** Debian's interpreter: the `python3` on PATH may be another one without python3-pymodbus. */
export const PYTHON = '/usr/bin/python3';

let pymodbusCheck: string | undefined | null = null;

/**
 * Why the simulator cannot run here (undefined when it can). Test files call this when they are loaded, all at
 * once at the start of a run, so one failed attempt (a spawn under load) would fail every device test: a failure
 * is retried and its cause kept in the message.
 */
export function pymodbusMissing(): string | undefined {
  if (pymodbusCheck !== null) return pymodbusCheck;
  let cause = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      execFileSync(PYTHON, ['-c', 'import pymodbus.server.async_io, serial_asyncio'], {
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 20000,
      });
      pymodbusCheck = undefined;
      return pymodbusCheck;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
      cause = (e.stderr?.toString().trim().split('\n').pop() || e.code || e.message) ?? '';
    }
  }
  pymodbusCheck = `${PYTHON} cannot import pymodbus 3 (apt-get install python3-pymodbus): ${cause}`;
  return pymodbusCheck;
}

/** requireAvailable() for tests that need the simulator, and socat too when they use RTU over a pty. */
export function requireModbusSim(test: Test, over: 'tcp' | 'rtu'): ConditionalTest {
  const missing = pymodbusMissing();
  if (missing !== undefined) return requireAvailable(test, missing);
  return over === 'rtu' ? requireTool(test, 'socat') : requireAvailable(test, undefined);
}

export type SimTable = 'hr' | 'ir' | 'co' | 'di';

export interface SimOptions {
  units?: number[];
  /** Registers and bits per table and unit; an address at or beyond it answers exception 0x02. */
  size?: number;
  /** RTU on this serial path (one end of a PtyPair) instead of TCP. */
  serial?: string;
  baudRate?: number;
  /** RTU frames over the TCP port (a serial-to-Ethernet converter in transparent mode). */
  rtuOverTcp?: boolean;
}

type Reply = Record<string, unknown> & { ok?: boolean; error?: string };

export class ModbusSim {
  private readonly waiting: ((reply: Reply) => void)[] = [];
  private buffered = '';
  private stderr = '';
  private exited = false;
  port = 0;

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(JSON.parse(line) as Reply);
      }
    });
    child.stderr!.on('data', (d) => (this.stderr = (this.stderr + String(d)).slice(-4000)));
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w({ ok: false, error: `simulator exited: ${this.stderr}` });
    });
  }

  static async start(options: SimOptions = {}): Promise<ModbusSim> {
    const args = [SIM_SCRIPT, '--units', (options.units ?? [1]).join(','), '--size', String(options.size ?? 1000)];
    if (options.rtuOverTcp) args.push('--rtu-over-tcp');
    if (options.serial) args.push('--serial', options.serial, '--baud', String(options.baudRate ?? 9600));
    const sim = new ModbusSim(spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    const ready = await sim.next(15000);
    if (!ready.ready) throw new Error(`modbus simulator did not start: ${ready.error ?? ''} ${sim.stderr}`);
    sim.port = Number(ready.port ?? 0);
    return sim;
  }

  private next(timeoutMs: number): Promise<Reply> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, error: `no reply from the simulator in ${timeoutMs} ms; ${this.stderr}` }), timeoutMs);
      this.waiting.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  async command(cmd: Record<string, unknown>): Promise<Reply> {
    if (this.exited) throw new Error(`simulator exited: ${this.stderr}`);
    const reply = this.next(10000);
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
    const r = await reply;
    if (!r.ok) throw new Error(`simulator ${String(cmd.op)}: ${r.error}`);
    return r;
  }

  set(unit: number, table: SimTable, address: number, values: number[]): Promise<Reply> {
    return this.command({ op: 'set', unit, table, address, values });
  }
  async get(unit: number, table: SimTable, address: number, count = 1): Promise<number[]> {
    return (await this.command({ op: 'get', unit, table, address, count })).values as number[];
  }
  /** Requests seen per unit and function code. */
  async counts(): Promise<Record<string, Record<string, number>>> {
    return (await this.command({ op: 'counts' })).counts as Record<string, Record<string, number>>;
  }
  async requestCount(unit: number, functionCode?: number): Promise<number> {
    const perUnit = (await this.counts())[String(unit)] ?? {};
    return functionCode === undefined ? Object.values(perUnit).reduce((a, b) => a + b, 0) : (perUnit[String(functionCode)] ?? 0);
  }
  async writes(): Promise<[number, number, number, number[]][]> {
    return (await this.command({ op: 'writes' })).writes as [number, number, number, number[]][];
  }
  reset(): Promise<Reply> {
    return this.command({ op: 'reset' });
  }
  holes(unit: number, table: SimTable, addresses: number[]): Promise<Reply> {
    return this.command({ op: 'holes', unit, table, addresses });
  }
  /** Writes to these addresses are answered and logged but the values are not kept (a read-back then differs). */
  ignoreWrites(unit: number, table: SimTable, addresses: number[]): Promise<Reply> {
    return this.command({ op: 'ignore', unit, table, addresses });
  }
  /** Writes touching these addresses answer exception 0x04 (server device failure) and are not logged. */
  failWrites(unit: number, table: SimTable, addresses: number[]): Promise<Reply> {
    return this.command({ op: 'fail', unit, table, addresses });
  }
  mute(unit: number, on = true): Promise<Reply> {
    return this.command({ op: 'mute', unit, on });
  }
  /** The next `count` answers of `unit`: RTU with a damaged CRC, TCP with a wrong transaction id. */
  corrupt(unit: number, count = 1): Promise<Reply> {
    return this.command({ op: 'corrupt', unit, count });
  }
  /** RTU: the next `count` answers of `unit` leave `ms` later (after the client gave up: late frames). */
  delay(unit: number, ms: number, count = 1): Promise<Reply> {
    return this.command({ op: 'delay', unit, ms, count });
  }
  /** TCP: the port closes (connections aborted); RTU: every unit falls silent. */
  stop(): Promise<Reply> {
    return this.command({ op: 'stop' });
  }
  start(): Promise<Reply> {
    return this.command({ op: 'start' });
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

/** A socat pseudo-terminal pair: bytes written to `a` come out of `b` and back; a virtual null-modem cable. */
export class PtyPair {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly a: string,
    readonly b: string,
  ) {}

  /** `at`: the two link paths to create (a port that appears where a configuration already points). */
  static async open(at?: { a: string; b: string }): Promise<PtyPair> {
    const dir = mkdtempSync(join(tmpdir(), 'wharf-pty-'));
    const a = at?.a ?? join(dir, 'a');
    const b = at?.b ?? join(dir, 'b');
    const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log += d));
    await waitFor(() => (existsSync(a) && existsSync(b)) || child.exitCode !== null, 5000, 'socat pty links').catch((e: Error) => {
      throw new Error(`${e.message}: ${log}`);
    });
    if (child.exitCode !== null) throw new Error(`socat exited: ${log}`);
    return new PtyPair(child, dir, a, b);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
