// Writes one command's point values to a device and verifies them by reading them back (issue 15). Values of
// consecutive addresses go in one request (05/06 for one coil/register, 15/16 for several); a bit of a register
// is read, changed and written back with 06. Every request goes through the bus scheduler's writes lane.

import type { ResolvedPoint } from '../../config/types.js';
import type { DeviceLink } from '../bus-scheduler.js';
import { failureText } from '../bus-scheduler.js';
import { MAX_WRITE_COILS, MAX_WRITE_REGISTERS, type FailedResult, type ReadResult } from '../modbus/pdu.js';
import { decodeBit, decodeRegisters } from '../points/decode.js';
import { setBit } from '../points/encode.js';
import type { CommandValue, PointCommand } from './parse.js';

export type WriteOutcome =
  | { kind: 'written'; points: PointOutcome[]; writtenAtMs: number }
  /** A request failed: an exception answer (`rejected`) or no usable answer (`failed`). Nothing was verified. */
  | { kind: 'rejected' | 'failed'; reason: string };

export type PointOutcome =
  | { point: string; value: CommandValue; ok: true; readBack: CommandValue }
  | { point: string; value: CommandValue; ok: false; readBack: CommandValue | undefined; reason: string };

/** A run of consecutive addresses of one table, written in one request. */
interface Run {
  table: 'coil' | 'holding_register';
  address: number;
  values: number[];
  commands: PointCommand[];
}

const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target failed to respond',
};

function failure(result: FailedResult): { kind: 'rejected' | 'failed'; reason: string } {
  if (result.kind === 'exception') {
    const name = EXCEPTION_NAMES[result.code];
    return { kind: 'rejected', reason: `Modbus exception 0x${result.code.toString(16).padStart(2, '0')}${name ? ` (${name})` : ''}` };
  }
  return { kind: 'failed', reason: failureText(result) };
}

/** Groups the commands (bits of registers aside) into runs of consecutive addresses, within a request's limits. */
export function planRuns(commands: readonly PointCommand[]): Run[] {
  const sorted = commands
    .filter((c) => !('bitOf' in c.encoded))
    .sort((a, b) => (a.point.table === b.point.table ? a.point.address - b.point.address : a.point.table < b.point.table ? -1 : 1));
  const runs: Run[] = [];
  for (const c of sorted) {
    const table = c.point.table as Run['table'];
    const values = 'bit' in c.encoded ? [c.encoded.bit ? 1 : 0] : (c.encoded as { words: number[] }).words;
    const last = runs[runs.length - 1];
    const max = table === 'coil' ? MAX_WRITE_COILS : MAX_WRITE_REGISTERS;
    if (last !== undefined && last.table === table && last.address + last.values.length === c.point.address && last.values.length + values.length <= max) {
      last.values.push(...values);
      last.commands.push(c);
    } else runs.push({ table, address: c.point.address, values: [...values], commands: [c] });
  }
  return runs;
}

async function readBack(link: DeviceLink, point: ResolvedPoint): Promise<ReadResult> {
  return link.read({ table: point.table, address: point.address, quantity: point.quantity });
}

function readValue(point: ResolvedPoint, result: ReadResult): CommandValue | undefined {
  if (result.kind !== 'ok') return undefined;
  const decoded = 'bits' in result ? decodeBit(result.bits, 0) : decodeRegisters(point, result.registers, 0);
  return 'value' in decoded ? decoded.value : undefined;
}

/** What the device holds now equals what was written (the raw words or bit, so no float rounding is involved). */
function matches(c: PointCommand, result: ReadResult & { kind: 'ok' }): boolean {
  if ('bits' in result) return 'bit' in c.encoded && (result.bits[0] === 1) === c.encoded.bit;
  if ('bitOf' in c.encoded) return (((result.registers[0] ?? 0) >> (c.point.bit ?? 0)) & 1) === (c.encoded.bitOf ? 1 : 0);
  const words = (c.encoded as { words: number[] }).words;
  return words.every((w, i) => result.registers[i] === w);
}

/** Writes every value of one command, then reads each point back. */
export async function writeCommand(link: DeviceLink, commands: readonly PointCommand[]): Promise<WriteOutcome> {
  for (const run of planRuns(commands)) {
    const result = await link.write({ table: run.table, address: run.address, values: run.values });
    if (result.kind !== 'ok') return failure(result);
  }
  for (const c of commands) {
    if (!('bitOf' in c.encoded)) continue;
    const current = await link.read({ table: 'holding_register', address: c.point.address, quantity: 1 });
    if (current.kind !== 'ok') return failure(current);
    const word = 'registers' in current ? (current.registers[0] ?? 0) : 0;
    const result = await link.write({ table: 'holding_register', address: c.point.address, values: [setBit(word, c.point.bit ?? 0, c.encoded.bitOf)] });
    if (result.kind !== 'ok') return failure(result);
  }
  const writtenAtMs = Date.now();
  const points: PointOutcome[] = [];
  for (const c of commands) {
    const result = await readBack(link, c.point);
    if (result.kind !== 'ok') return failure(result);
    const value = readValue(c.point, result);
    if (matches(c, result) && value !== undefined) points.push({ point: c.point.name, value: c.value, ok: true, readBack: value });
    else points.push({ point: c.point.name, value: c.value, ok: false, readBack: value, reason: `read back ${JSON.stringify(value ?? null)} after writing ${JSON.stringify(c.value)}` });
  }
  return { kind: 'written', points, writtenAtMs };
}
