// `wharf boards`: the board profiles in boards/, with their serial ports and recommended commit windows.

import { listBoards, loadBoard, type BoardProfile } from '../../config/boards.js';
import { json, table } from '../format.js';
import type { CommandIo } from './io.js';

function storageOf(p: BoardProfile): string {
  const s = p.config.storage as Record<string, unknown> | undefined;
  return s?.commitIntervalMs !== undefined ? String(s.commitIntervalMs) : '-';
}

export function boardsCommand(asJson: boolean, io: CommandIo): number {
  const profiles = listBoards().flatMap((name) => loadBoard(name, []) ?? []);
  if (asJson) {
    io.out(json(profiles.map(({ name, description, deviceTreeModel, serialPorts, commitWindowMs, config }) => ({ name, description, deviceTreeModel: deviceTreeModel ?? null, serialPorts, commitWindowMs, config }))));
    return 0;
  }
  const rows = profiles.map((p) => [
    p.name,
    p.serialPorts.join(' ') || '-',
    Object.entries(p.commitWindowMs).map(([kind, ms]) => `${kind} ${ms}`).join(', ') || '-',
    storageOf(p),
    p.description.split('.')[0]!,
  ]);
  io.out(table(['BOARD', 'SERIAL PORTS', 'COMMIT WINDOW MS BY STORAGE', 'DEFAULT', 'DESCRIPTION'], rows) + 'Use one with "board: NAME" in the configuration file; "wharf doctor" recommends one.\n');
  return 0;
}
