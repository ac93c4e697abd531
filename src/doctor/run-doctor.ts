// `wharf doctor`: the checks in order, on the data directory the configuration names (storage.dataDir, or
// --data). Measurements run in a scratch directory inside it (created if missing, removed after), so they see
// the filesystem, device and permissions Wharf will use; nothing of Wharf's own data is touched.

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { loadBoard } from '../config/boards.js';
import { defaultConfig } from '../config/types.js';
import { boardCheck } from './board-advice.js';
import { clockCheck } from './clock.js';
import { crashTest } from './crash-test.js';
import { measureSyncLatency, measureWriteRate } from './disk-bench.js';
import { flushCheck } from './flush-check.js';
import { serialCheck } from './serial-ports.js';
import { storageDevice } from './storage-device.js';
import { estimateWrites } from './write-estimate.js';
import { worstVerdict, type Check, type DoctorReport } from './types.js';

export interface DoctorOptions {
  /** Loads the configuration as `wharf start` would (it throws ConfigError on an invalid one). */
  loadConfig: () => LoadedConfig;
  /** Message rate and payload size for the write estimate. */
  messagesPerSecond: number;
  payloadBytes: number;
  crashRounds: number;
  /** Bounds of the fdatasync and write-rate runs. */
  syncSamples?: number;
  writeRateBytes?: number;
}

function mib(b: number): string {
  if (b >= 1024 ** 3) return `${(b / 1024 ** 3).toFixed(1)} GiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

/** When this Wharf was built: the time of its compiled entry point. */
function builtAtMs(): number {
  return statSync(fileURLToPath(new URL('../cli/main.js', import.meta.url))).mtimeMs;
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = [];
  let loaded: LoadedConfig | undefined;
  try {
    loaded = opts.loadConfig();
    checks.push({ name: 'config', verdict: 'ok', summary: `valid: ${loaded.file ?? 'embedded default (no --config)'}${loaded.board ? `, board ${loaded.board.name}` : ''}`, details: { file: loaded.file ?? null, board: loaded.board?.name ?? null } });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    checks.push({ name: 'config', verdict: 'fail', summary: err.message, details: { error: err.message } });
  }
  // With an invalid configuration the rest still runs, on the defaults and the data directory asked for.
  const config = loaded?.config ?? defaultConfig();
  const dataDir = config.storage.dataDir;

  const created = !existsSync(dataDir);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    checks.push({ name: 'storage', verdict: 'fail', summary: `cannot create the data directory ${dataDir}: ${(err as Error).message}`, details: {} });
    return { dataDir, checks, verdict: 'fail' };
  }
  let scratch: string;
  try {
    scratch = mkdtempSync(join(dataDir, '.doctor-'));
  } catch (err) {
    checks.push({ name: 'storage', verdict: 'fail', summary: `cannot write in the data directory ${dataDir}: ${(err as Error).message}`, details: {} });
    return { dataDir, checks, verdict: 'fail' };
  }
  try {
    const device = storageDevice(dataDir);
    const storage = config.storage;
    const lowSpace = device.freeBytes < Math.max(storage.minFreeDiskBytes * 4, 64 * 1024 * 1024);
    checks.push({
      name: 'storage',
      verdict: lowSpace ? 'warn' : 'ok',
      summary: `${device.fsType} on ${device.disk ?? device.source} (${device.kind}${device.model ? `, ${device.model}` : ''}), ${mib(device.freeBytes)} free of ${mib(device.totalBytes)}${lowSpace ? ': little room for queued messages' : ''}`,
      details: { ...device },
    });

    const sync = measureSyncLatency(scratch, opts.syncSamples);
    checks.push({ name: 'fsync', verdict: 'info', summary: `fdatasync of a 4 KiB append: p50 ${sync.p50Ms.toFixed(3)} ms, p99 ${sync.p99Ms.toFixed(3)} ms over ${sync.samples} samples (at most ${Math.floor(1000 / Math.max(sync.p50Ms, 0.001))} commits/s)`, details: { ...sync } });
    const rateBytes = Math.min(opts.writeRateBytes ?? 64 * 1024 * 1024, Math.max(0, device.freeBytes / 4));
    const rate = measureWriteRate(scratch, rateBytes);
    checks.push({ name: 'write-rate', verdict: 'info', summary: `sequential write ${mib(rate.bytesPerSecond)}/s (${mib(rate.bytes)} in ${rate.seconds.toFixed(2)} s, fdatasync included)`, details: { ...rate } });
    checks.push(flushCheck(device, sync));

    const est = estimateWrites(storage, sync.p50Ms, opts.messagesPerSecond, opts.payloadBytes);
    checks.push({
      name: 'estimate',
      verdict: 'info',
      summary: `at ${opts.messagesPerSecond} msg/s of ${opts.payloadBytes} B (commitIntervalMs ${storage.commitIntervalMs}, commitMaxPerSecond ${storage.commitMaxPerSecond}): ~${est.fsyncsPerSecond.toFixed(1)} fsyncs/s, ~${mib(est.bytesPerDay)}/day written (x${est.writeAmplification.toFixed(1)} the payload)`,
      details: { ...est, commitIntervalMs: storage.commitIntervalMs, commitMaxPerSecond: storage.commitMaxPerSecond },
    });
    checks.push(boardCheck(device, sync, { board: loaded?.board?.name, commitIntervalMs: storage.commitIntervalMs }));
    const board = loaded?.board ? loadBoard(loaded.board.name, []) : undefined;
    checks.push(serialCheck(board?.name, board?.serialPorts ?? []));
    checks.push(clockCheck(dataDir, builtAtMs()));
    if (opts.crashRounds > 0) checks.push(await crashTest(scratch, storage, opts.crashRounds));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    if (created) rmSync(dataDir, { recursive: true, force: true });
  }
  return { dataDir, checks, verdict: worstVerdict(checks) };
}
