// The JSON document a poll of one device publishes to its state topic (issue 14, Publishing):
//
//   {"timestamp":1764637323456,"values":{"voltage":230.1,"relay":true},"errors":{"frequency":"timeout"}}
//
// - timestamp: when the values were read (ms since the epoch), not when they were published;
// - values: the points whose value changed beyond their deadband since it was last published (publish: change),
//   or every point read (publish: always, per device or per point); a point whose read failed before and now
//   has a value is in it even if the value is the old one (its quality changed);
// - errors: per-point quality, the reason a point has no value this cycle (shown when it starts or changes,
//   every cycle for publish: always);
// - full: true on a document with every point read this cycle, published at least every heartbeat (and first).
// The shape follows EMQ Neuron's north messages (timestamp, values, errors) so existing consumers fit.

import type { PublishMode, ResolvedPoint } from '../config/types.js';
import type { PointValue } from './points/decode.js';
import { JsonWriter } from './json-writer.js';
import type { PointReading } from './read-plan.js';

export interface StateDocumentOptions {
  /** The device's publish mode; a point's own `publish` wins. */
  publish: PublishMode;
  /** A full document at least this often; 0 = only changes. */
  heartbeatMs: number;
}

export interface PointState {
  name: string;
  value?: PointValue;
  quality: 'good' | 'bad';
  error?: string;
}

interface Track {
  point: ResolvedPoint;
  /** The point's name as a JSON key with its colon (`"voltage":`), encoded once. */
  key: Buffer;
  mode: PublishMode;
  /** Last value published (the deadband is measured from it, so a slow drift is published once it adds up). */
  published: PointValue | undefined;
  /** Latest error read, which is also the last published (an unchanged error is not repeated); undefined while good. */
  error: string | undefined;
  /**
   * Latest value read, published or not (for status; with `error` it is the latest reading). Kept as a field, not
   * as the reading object: an object held from one poll to the next outlives two scavenges and is promoted, so
   * 2,000 points a second would fill the old space with garbage between major GCs (issue 14's RSS target).
   */
  latestValue: PointValue | undefined;
  /** Whether the point has been read (well or not) at all. */
  read: boolean;
}

export class StateDocumentBuilder {
  private readonly tracks = new Map<string, Track>();
  private readonly heartbeatMs: number;
  private lastFullMs: number | undefined;

  constructor(points: readonly ResolvedPoint[], options: StateDocumentOptions) {
    this.heartbeatMs = options.heartbeatMs;
    for (const point of points) {
      this.tracks.set(point.name, { point, key: Buffer.from(`${JSON.stringify(point.name)}:`), mode: point.publish ?? options.publish, published: undefined, error: undefined, latestValue: undefined, read: false });
    }
  }

  /** The document for this poll's readings, or null when nothing is to be published. */
  build(readings: readonly PointReading[], readAtMs: number): Buffer | null {
    const full = this.lastFullMs === undefined || (this.heartbeatMs > 0 && readAtMs - this.lastFullMs >= this.heartbeatMs);
    // Written as it goes into one scratch buffer, from keys encoded once, instead of objects for JSON.stringify or
    // strings concatenated per point: this runs for every device on every poll (50 documents a second in the
    // issue's load). Values first, then errors (two passes: a reading is one or the other, so the order and the
    // tracks' state are as in one pass).
    const w = writer.begin().bytes(HEAD).number(readAtMs).bytes(VALUES);
    let anyValue = false;
    for (const r of readings) {
      if ('error' in r) continue;
      const t = this.tracks.get(r.point);
      if (t === undefined) continue;
      t.read = true;
      if (full || t.mode === 'always' || t.error !== undefined || changed(t, r.value)) {
        if (anyValue) w.byte(COMMA);
        anyValue = true;
        w.bytes(t.key);
        writeValue(w, r.value);
        t.published = r.value;
      }
      t.latestValue = r.value;
      t.error = undefined;
    }
    w.byte(CLOSE);
    let anyError = false;
    for (const r of readings) {
      if (!('error' in r)) continue;
      const t = this.tracks.get(r.point);
      if (t === undefined) continue;
      t.read = true;
      if (full || t.mode === 'always' || t.error !== r.error) {
        w.bytes(anyError ? COMMA_BYTES : ERRORS);
        anyError = true;
        w.bytes(t.key).string(r.error);
      }
      t.error = r.error;
    }
    if (anyError) w.byte(CLOSE);
    if (full) this.lastFullMs = readAtMs;
    if (!anyValue && !anyError && !full) return null;
    if (full) w.bytes(FULL);
    return w.byte(CLOSE).finish();
  }

  /** Every point's latest reading, for the device status (admin API, `wharf devices show`). */
  snapshot(): PointState[] {
    return [...this.tracks.values()].map((t) => {
      const name = t.point.name;
      if (!t.read) return { name, quality: 'bad', error: 'not read yet' };
      return t.error !== undefined ? { name, quality: 'bad', error: t.error } : { name, value: t.latestValue, quality: 'good' };
    });
  }
}

const writer = new JsonWriter();
const HEAD = Buffer.from('{"timestamp":');
const VALUES = Buffer.from(',"values":{');
const ERRORS = Buffer.from(',"errors":{');
const FULL = Buffer.from(',"full":true');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const COMMA = 0x2c;
const COMMA_BYTES = Buffer.from(',');
const CLOSE = 0x7d;

/** A point value as JSON: decode.ts gives finite numbers only (NaN and infinities are errors), booleans, strings. */
function writeValue(w: JsonWriter, value: PointValue): void {
  if (typeof value === 'number') w.number(value);
  else if (typeof value === 'boolean') w.bytes(value ? TRUE : FALSE);
  else w.string(value);
}

function changed(t: Track, value: PointValue): boolean {
  const last = t.published;
  if (last === undefined) return true;
  if (typeof value === 'number' && typeof last === 'number') return Math.abs(value - last) > t.point.deadband || (t.point.deadband === 0 && value !== last);
  return value !== last;
}
