// `wharf doctor --crash-test`: a writer child (crash-writer.ts) is killed with SIGKILL at a random moment, a
// bounded number of times, on the data directory's own storage; after each kill the store is opened here and
// every write the child had been told was durable must be there, intact. A kill leaves the page cache alone, so
// this proves the store's commit protocol and recovery on this filesystem, not the device's flush (see flush).
// Under qemu-user the child cannot be started as process.execPath (an ARM binary on an x86 kernel without
// binfmt): WHARF_DOCTOR_EXEC_WRAPPER (e.g. "qemu-aarch64-static -L /usr/aarch64-linux-gnu") is put in front.
// The records of rounds before the last are deleted once checked, and all of them after a round in which the
// store refused a write for lack of space, so the test fits a small card however fast its commits are.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StorageConfig } from '../config/types.js';
import { Store } from '../store/store.js';
import { configuredStoreOptions } from '../store/open-configured.js';
import { CRASH_TOPIC_PREFIX, crashPayload } from './crash-payload.js';
import type { Check } from './types.js';

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url));
/** A store opens in well under a second natively; emulated, in several. */
const OPEN_TIMEOUT_MS = 60_000;
const MAX_KILL_DELAY_MS = 400;

export interface CrashRound {
  acknowledged: number;
  killedAfterMs: number;
  /** The store's refusal when it ran out of space during the round (the kill then came at once). */
  full?: string;
}

interface WriterRun {
  acked: number[];
  full?: string;
}

/** The command starting the writer: the wrapper's words (if any), then this Node. */
export function writerCommand(wrapper = process.env.WHARF_DOCTOR_EXEC_WRAPPER ?? ''): [string, string[]] {
  const words = wrapper.split(/\s+/).filter((w) => w !== '');
  return words.length > 0 ? [words[0]!, [...words.slice(1), process.execPath]] : [process.execPath, []];
}

const EMULATION_HINT = 'running under emulation (qemu-user)? set WHARF_DOCTOR_EXEC_WRAPPER to the emulator command, e.g. "qemu-aarch64-static -L /usr/aarch64-linux-gnu"';

/**
 * Checks that the writer's command runs this Node at all. Under qemu-user without binfmt, process.execPath is
 * an ARM binary the kernel refuses (ENOEXEC), and execvp then hands it to /bin/sh, which fails on the ELF bytes.
 */
function checkWriterRuns(): Promise<void> {
  const [cmd, pre] = writerCommand();
  return new Promise((resolve, reject) => {
    execFile(cmd, [...pre, '-e', 'process.stdout.write(process.arch)'], { timeout: OPEN_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (!err && stdout === process.arch) resolve();
      else reject(new Error(`cannot run ${[cmd, ...pre].join(' ')} as the writer (${(err?.message ?? stderr).trim().split('\n')[0]!.slice(0, 200)}); ${EMULATION_HINT}`));
    });
  });
}

/** One writer run to its kill; resolves with the numbers it acknowledged. */
function runWriter(dir: string, storage: StorageConfig, first: number, killAfterMs: number): Promise<WriterRun> {
  const [cmd, pre] = writerCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...pre, WRITER, dir, JSON.stringify(storage), String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let full: string | undefined;
    let partial = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    let killPlanned = false; // a SIGKILL not planned is the open timeout's
    const killNow = (): void => {
      killPlanned = true;
      child.kill('SIGKILL');
    };
    const openTimer = setTimeout(() => child.kill('SIGKILL'), OPEN_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line === 'open') continue;
        if (line.startsWith('full ')) {
          full = line.slice('full '.length);
          clearTimeout(openTimer);
          clearTimeout(killTimer);
          killNow();
          continue;
        }
        // The kill's moment counts from the first acknowledged write: every round then has writes to check.
        if (killTimer === undefined) {
          clearTimeout(openTimer);
          killTimer = setTimeout(killNow, killAfterMs);
        }
        acked.push(Number(line));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
    child.on('error', (err) => {
      clearTimeout(openTimer);
      const hint = (err as NodeJS.ErrnoException).code === 'ENOEXEC' ? `; ${EMULATION_HINT}` : '';
      reject(new Error(`cannot start the writer ${cmd}: ${err.message}${hint}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(openTimer);
      clearTimeout(killTimer);
      if (signal === 'SIGKILL' && killPlanned) resolve({ acked, full });
      else if (signal === 'SIGKILL') reject(new Error(`the writer did not open a store and commit a write within ${OPEN_TIMEOUT_MS / 1000} s: ${stderr.trim() || 'no output'}`));
      else reject(new Error(`the writer stopped by itself (code ${code}, signal ${signal}) before the kill: ${stderr.trim() || 'no output'}`));
    });
  });
}

/**
 * Numbers among `expected` whose record is missing or wrong in the store at `dir`; then the records of `drop`
 * are deleted, to keep the test's footprint to about two rounds' writes.
 */
async function findLostThenDrop(dir: string, storage: StorageConfig, expected: number[], drop: number[]): Promise<number[]> {
  const store = await Store.open(configuredStoreOptions({ ...storage, dataDir: dir }));
  try {
    const found = new Map<string, Buffer>();
    for (const m of await store.loadRetained()) found.set(m.topic, m.payload);
    const lost = expected.filter((n) => {
      const payload = found.get(`${CRASH_TOPIC_PREFIX}${n}`);
      return payload === undefined || !payload.equals(crashPayload(n, storage.inlineMaxBytes));
    });
    if (lost.length === 0) await Promise.all(drop.map((n) => store.deleteRetained(`${CRASH_TOPIC_PREFIX}${n}`)));
    return lost;
  } finally {
    await store.close();
  }
}

/** Runs `rounds` kill rounds in a scratch directory inside `parentDir` (the data directory), then removes it. */
export async function crashTest(parentDir: string, storage: StorageConfig, rounds: number, random = Math.random): Promise<Check> {
  const dir = mkdtempSync(join(parentDir, '.doctor-crash-'));
  const done: CrashRound[] = [];
  let acknowledged = 0;
  let kept: number[] = []; // acknowledged in an earlier round and still in the store
  try {
    await checkWriterRuns();
    let next = 0;
    for (let r = 0; r < rounds; r++) {
      const killedAfterMs = Math.round(random() * MAX_KILL_DELAY_MS);
      const { acked, full } = await runWriter(dir, storage, next, killedAfterMs);
      if (full !== undefined && acked.length === 0 && kept.length === 0) throw new Error(`no room for the test's writes on this storage (${full})`);
      next = acked.reduce((m, n) => Math.max(m, n + 1), next) + 1000; // numbers of writes in flight at the kill are skipped
      acknowledged += acked.length;
      done.push({ acknowledged: acked.length, killedAfterMs, ...(full !== undefined ? { full } : {}) });
      // This round's writes and the earlier round's still kept: a recovery must not lose an earlier one's either.
      const expected = [...kept, ...acked];
      const lost = await findLostThenDrop(dir, storage, expected, full !== undefined ? expected : kept);
      if (lost.length > 0) {
        return { name: 'crash-test', verdict: 'fail', summary: `${lost.length} acknowledged writes lost after kill ${r + 1} (e.g. ${lost.slice(0, 5).join(', ')}): do not trust this storage with durable messages`, details: { rounds: done, acknowledged, lost: lost.length } };
      }
      kept = full !== undefined ? [] : acked;
    }
  } catch (err) {
    return { name: 'crash-test', verdict: 'fail', summary: `could not run: ${(err as Error).message}`, details: { rounds: done } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'crash-test', verdict: 'ok', summary: `${rounds} SIGKILLs at random moments, ${acknowledged} acknowledged writes, none lost`, details: { rounds: done, acknowledged, lost: 0 } };
}
