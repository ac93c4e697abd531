// A command message -> the point values it sets, each checked against its point before anything is queued
// (issue 15): unknown point, point not writable, wrong type, outside min/max/allowed are refused at publish time.

import type { ResolvedPoint } from '../../config/types.js';
import { ReasonCode } from '../../protocol/reason-codes.js';
import { encodeValue, type Encoded } from '../points/encode.js';

export type CommandValue = number | boolean | string;

export interface PointCommand {
  point: ResolvedPoint;
  value: CommandValue;
  encoded: Exclude<Encoded, { error: string }> | { bitOf: boolean };
}

/** Why a command is refused: an MQTT 5 reason code (0x99 bad input, 0x87 not writable) and a text for the receipt. */
export interface CommandRefusal {
  reasonCode: number;
  reason: string;
  /** The points the command named, and their values when they parsed, for the `rejected` receipt. */
  values: Record<string, unknown>;
}

/** The payload of a one-point command: JSON (`60`, `true`, `"auto"`), or else the text itself (`auto`). */
export function parseValue(payload: Buffer): unknown {
  const text = payload.toString('utf8').trim();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One point's value: its point must exist and be writable, the value must encode within the point's bounds. */
export function checkPoint(points: ReadonlyMap<string, ResolvedPoint>, name: string, value: unknown): PointCommand | { reasonCode: number; reason: string } {
  const point = points.get(name);
  if (point === undefined) return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `unknown point "${name}"` };
  if (!point.writable) return { reasonCode: ReasonCode.NotAuthorized, reason: `point "${name}" is not writable` };
  if (typeof value !== 'number' && typeof value !== 'boolean' && typeof value !== 'string') {
    return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `point "${name}": expected a number, boolean or string; got ${JSON.stringify(value)}` };
  }
  if (point.type === 'bool' && point.bit !== undefined) {
    // A bit of a register is written read-modify-write (writer.ts); only the value is checked here.
    const b = value === true || value === 1 ? true : value === false || value === 0 ? false : undefined;
    if (b === undefined) return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `point "${name}": expected true or false; got ${JSON.stringify(value)}` };
    if (point.allowed !== undefined && !point.allowed.includes(value as never)) {
      return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `point "${name}": ${JSON.stringify(value)} is not one of the allowed values` };
    }
    return { point, value, encoded: { bitOf: b } };
  }
  const encoded = encodeValue(point, value);
  if ('error' in encoded) return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `point "${name}": ${encoded.error}` };
  return { point, value, encoded };
}

/**
 * The points and values of a command on `<topic>` (a JSON object of point -> value) or `<topic>/<point>` (one
 * value). `rest` is the topic's levels after the command topic. One bad point refuses the whole command.
 */
export function parseCommand(points: ReadonlyMap<string, ResolvedPoint>, rest: readonly string[], payload: Buffer): PointCommand[] | CommandRefusal {
  if (rest.length > 1) {
    return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: `unknown point "${rest.join('/')}"`, values: {} };
  }
  if (rest.length === 1) {
    const value = parseValue(payload);
    const checked = checkPoint(points, rest[0]!, value);
    return 'point' in checked ? [checked] : { ...checked, values: { [rest[0]!]: value } };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: 'a command for several points must be a JSON object of point -> value', values: {} };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || Object.keys(doc).length === 0) {
    return { reasonCode: ReasonCode.PayloadFormatInvalid, reason: 'a command for several points must be a non-empty JSON object of point -> value', values: {} };
  }
  const values = doc as Record<string, unknown>;
  const out: PointCommand[] = [];
  for (const [name, value] of Object.entries(values)) {
    const checked = checkPoint(points, name, value);
    if (!('point' in checked)) return { ...checked, values };
    out.push(checked);
  }
  return out;
}
