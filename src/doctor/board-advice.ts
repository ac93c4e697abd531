// Which board profile fits this machine: the device tree names Raspberry Pi boards; the profile's
// commitWindowMs says which commit window suits the storage found. Off a known board, the advice is drawn from
// the measured fdatasync latency alone.

import { readFileSync } from 'node:fs';
import { listBoards, loadBoard, type BoardProfile } from '../config/boards.js';
import type { StorageDevice } from './storage-device.js';
import type { SyncLatency } from './disk-bench.js';
import type { Check } from './types.js';

export function deviceTreeModel(): string | undefined {
  for (const path of ['/proc/device-tree/model', '/sys/firmware/devicetree/base/model']) {
    try {
      return readFileSync(path, 'latin1').replace(/\0/g, '').trim();
    } catch {
      // not a device-tree machine (x86), or not exposed
    }
  }
  return undefined;
}

export function loadProfiles(): BoardProfile[] {
  return listBoards().flatMap((name) => loadBoard(name, []) ?? []);
}

export function matchBoard(model: string | undefined, profiles: BoardProfile[]): BoardProfile | undefined {
  if (model === undefined) return undefined;
  return profiles.find((p) => p.deviceTreeModel !== undefined && model.startsWith(p.deviceTreeModel));
}

/** A commit window long enough that a commit usually finds the previous sync done: about the p99 sync time. */
export function windowFromLatency(sync: SyncLatency): number {
  return Math.min(50, Math.max(2, Math.ceil(sync.p99Ms)));
}

export function boardCheck(device: StorageDevice, sync: SyncLatency, configured: { board: string | undefined; commitIntervalMs: number }, model = deviceTreeModel(), profiles = loadProfiles()): Check {
  const board = matchBoard(model, profiles);
  const byProfile = board?.commitWindowMs[device.kind];
  const windowMs = byProfile ?? windowFromLatency(sync);
  const details = { model: model ?? null, recommendedBoard: board?.name ?? null, configuredBoard: configured.board ?? null, storageKind: device.kind, recommendedCommitIntervalMs: windowMs, configuredCommitIntervalMs: configured.commitIntervalMs, windowFrom: byProfile !== undefined ? `board ${board!.name}, ${device.kind}` : 'measured fdatasync p99' };
  const advice = `storage.commitIntervalMs ${windowMs} (${details.windowFrom}; configured ${configured.commitIntervalMs})`;
  if (board === undefined) {
    return { name: 'board', verdict: 'info', summary: `no board profile for ${model ? `"${model}"` : 'this machine (no device tree model)'}; ${advice}`, details };
  }
  if (configured.board !== board.name) {
    return { name: 'board', verdict: 'warn', summary: `this is a ${model}: set "board: ${board.name}" in the configuration (now: ${configured.board ?? 'none'}); ${advice}`, details };
  }
  return { name: 'board', verdict: 'ok', summary: `board: ${board.name} matches "${model}"; ${advice}`, details };
}
