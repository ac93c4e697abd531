// One device's poll as few Modbus reads as possible (issue 14, Coalescing): the points of each table are grouped
// into reads within the device's caps, bridging gaps of unmapped registers when that saves a request. A device that
// answers a coalesced read with exception 0x02 (illegal data address) or 0x03 (illegal data value, what many
// devices say to a quantity they do not serve) gets that read split in two for the following cycles, again and
// again, until the reads hold only what the device serves; a point that alone still gets the exception is
// reported bad and left out of the plan, and the other points keep being read.

import type { PointTable, ResolvedPoint } from '../config/types.js';
import { isBitTable } from '../config/device-points.js';
import { decodeBit, decodeRegisters, type PointValue } from './points/decode.js';

// The request and result shapes of src/devices/modbus/pdu.ts (h-devwire's codec; DEVICES.md "Interfaces"),
// restated here so the plan stays a pure module; both are structural, so pdu.ts's own types fit them.
export type Table = PointTable;
export interface ReadRequest {
  unitId: number;
  table: Table;
  /** Address on the wire (0-based). */
  address: number;
  quantity: number;
}
export type ReadResult =
  | { kind: 'ok'; registers: Uint16Array }
  | { kind: 'ok'; bits: Uint8Array }
  | { kind: 'exception'; code: number }
  | { kind: 'timeout' }
  | { kind: 'bad_frame'; reason: 'crc' | 'unit_id' | 'function_code' | 'byte_count' | 'transaction_id' | 'length' }
  | { kind: 'unavailable'; error: string };

export interface PlannedRead extends Omit<ReadRequest, 'unitId'> {
  readonly id: number;
}

export type PointReading = { point: string; value: PointValue } | { point: string; error: string };

export interface ReadCaps {
  maxRegistersPerRead: number;
  maxBitsPerRead: number;
}

/** Modbus exception codes (Modbus Application Protocol V1.1b3, section 7). */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0x01: 'illegal function',
  0x02: 'illegal data address',
  0x03: 'illegal data value',
  0x04: 'server device failure',
  0x05: 'acknowledge',
  0x06: 'server device busy',
  0x08: 'memory parity error',
  0x0a: 'gateway path unavailable',
  0x0b: 'gateway target device failed to respond',
};

export function exceptionText(code: number): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return `exception ${hex} (${EXCEPTION_NAMES[code] ?? 'unknown'})`;
}

/**
 * Largest run of unmapped registers (bits) read to save a request. On RTU at 9600 baud a register costs about
 * 2.3 ms on the wire, a request at least two 3.5-character silences, its own 8 bytes, the reply's 5 and the
 * device's turnaround (tens of ms): bridging 16 registers is still cheaper, and unmapped registers that a device
 * refuses are found by the split.
 */
export const MAX_GAP_REGISTERS = 16;
export const MAX_GAP_BITS = 128;

/** Points whose ranges overlap (bits of one register, two views of the same registers): never split apart. */
interface Cluster {
  address: number;
  end: number;
  points: ResolvedPoint[];
}

interface Span {
  read: PlannedRead;
  clusters: Cluster[];
  /** The clusters' points in order, computed once: settle runs every poll. */
  points: ResolvedPoint[];
}

/**
 * Overlapping points in clusters, each within `cap`: a chain of overlapping points longer than one read may take
 * (a uint16 view of every register beside float32s across them) goes into several clusters, whose reads then
 * overlap by a register or two.
 */
function clustersOf(points: readonly ResolvedPoint[], cap: number): Cluster[] {
  const sorted = [...points].sort((a, b) => a.address - b.address || a.quantity - b.quantity);
  const out: Cluster[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    const end = p.address + p.quantity;
    if (last !== undefined && p.address < last.end && Math.max(last.end, end) - last.address <= cap) {
      last.end = Math.max(last.end, end);
      last.points.push(p);
    } else out.push({ address: p.address, end, points: [p] });
  }
  return out;
}

const TABLE_ORDER: readonly Table[] = ['coil', 'discrete_input', 'holding_register', 'input_register'];

export class ReadPlan {
  private readonly caps: ReadCaps;
  private spans: Span[] = [];
  private readonly byId = new Map<number, Span>();
  /** Spans replaced by the last split: a read already under way for one of them still settles. */
  private retired = new Map<number, Span>();
  /** Ranges of bad points per table: no read may cover them again. */
  private readonly barriers = new Map<Table, [number, number][]>();
  private readonly bad: { point: string; reason: string }[] = [];
  private nextId = 1;
  private current: readonly PlannedRead[] = [];

  constructor(points: readonly ResolvedPoint[], caps: ReadCaps) {
    this.caps = caps;
    for (const table of TABLE_ORDER) {
      const cap = isBitTable(table) ? caps.maxBitsPerRead : caps.maxRegistersPerRead;
      const clusters = clustersOf(points.filter((p) => p.table === table), cap);
      for (const group of this.coalesce(table, clusters)) this.spans.push(this.span(table, group));
    }
    this.refresh();
  }

  /** This cycle's requests, in table and address order. */
  reads(): readonly PlannedRead[] {
    return this.current;
  }

  /** Points that the device refused alone with 0x02/0x03: no longer read. */
  badPoints(): readonly { point: string; reason: string }[] {
    return this.bad;
  }

  /**
   * The bad points as error readings: a poller appends them to each cycle's readings, so that full (heartbeat)
   * documents and the device status keep showing why those points have no value.
   */
  badReadings(): PointReading[] {
    return this.bad.map((b) => ({ point: b.point, error: b.reason }));
  }

  /**
   * The readings of the points `read` covers: values from an ok result, otherwise one error per point. On
   * exception 0x02/0x03 the read is split for the next cycles (or, holding one cluster, its points are bad).
   */
  settle(read: PlannedRead, result: ReadResult): PointReading[] {
    const span = this.byId.get(read.id) ?? this.retired.get(read.id);
    if (span === undefined) return [];
    const points = span.points;
    if (result.kind === 'ok') return points.map((p) => this.decode(read, p, result));
    const error = describeFailure(result);
    if (result.kind === 'exception' && (result.code === 0x02 || result.code === 0x03)) this.split(span, error);
    return points.map((p) => ({ point: p.name, error }));
  }

  private decode(read: PlannedRead, p: ResolvedPoint, result: Extract<ReadResult, { kind: 'ok' }>): PointReading {
    const start = p.address - read.address;
    if ('bits' in result) {
      if (!isBitTable(p.table)) return { point: p.name, error: 'the reply holds bits, not registers' };
      const d = decodeBit(result.bits, start);
      return 'error' in d ? { point: p.name, error: d.error } : { point: p.name, value: d.value };
    }
    if (isBitTable(p.table)) return { point: p.name, error: 'the reply holds registers, not bits' };
    const d = decodeRegisters(p, result.registers, start);
    if ('error' in d) return { point: p.name, error: d.error };
    return { point: p.name, value: d.value };
  }

  /** Greedy from the lowest address: optimal in request count for points that cannot be split. */
  private coalesce(table: Table, clusters: readonly Cluster[]): Cluster[][] {
    const bits = isBitTable(table);
    const cap = bits ? this.caps.maxBitsPerRead : this.caps.maxRegistersPerRead;
    const maxGap = bits ? MAX_GAP_BITS : MAX_GAP_REGISTERS;
    const barriers = this.barriers.get(table) ?? [];
    const blocked = (from: number, to: number): boolean => barriers.some(([a, b]) => a < to && b > from);
    const groups: Cluster[][] = [];
    let group: Cluster[] = [];
    let start = 0;
    let end = 0;
    for (const c of clusters) {
      if (group.length > 0 && c.address - end <= maxGap && Math.max(end, c.end) - start <= cap && !blocked(start, c.end)) {
        group.push(c);
        end = Math.max(end, c.end);
        continue;
      }
      if (group.length > 0) groups.push(group);
      group = [c];
      start = c.address;
      end = c.end;
    }
    if (group.length > 0) groups.push(group);
    return groups;
  }

  private span(table: Table, clusters: Cluster[]): Span {
    const address = clusters[0]!.address;
    const end = Math.max(...clusters.map((c) => c.end));
    const span: Span = { read: { id: this.nextId++, table, address, quantity: end - address }, clusters, points: clusters.flatMap((c) => c.points) };
    this.byId.set(span.read.id, span);
    return span;
  }

  private split(span: Span, error: string): void {
    const i = this.spans.indexOf(span);
    // A read of a span already replaced: its exception says nothing new.
    if (i < 0) return;
    this.retired = new Map();
    const retire = (s: Span): void => {
      this.byId.delete(s.read.id);
      this.retired.set(s.read.id, s);
    };
    const table = span.read.table;
    if (span.clusters.length === 1) {
      const cluster = span.clusters[0]!;
      for (const p of cluster.points) this.bad.push({ point: p.name, reason: error });
      this.barriers.set(table, [...(this.barriers.get(table) ?? []), [cluster.address, cluster.end]]);
      // The halves that led here are joined again, now around the bad point: the search's fragments do not stay.
      const rest = this.spans.filter((s) => s !== span && s.read.table === table);
      for (const s of [span, ...rest]) retire(s);
      const clusters = rest.flatMap((s) => s.clusters).sort((a, b) => a.address - b.address);
      const rebuilt = this.coalesce(table, clusters).map((g) => this.span(table, g));
      const others = this.spans.filter((s) => s.read.table !== table);
      this.spans = [...others, ...rebuilt].sort((a, b) => TABLE_ORDER.indexOf(a.read.table) - TABLE_ORDER.indexOf(b.read.table) || a.read.address - b.read.address);
    } else {
      // Halves by cluster count: a device's refused address is found in log2(clusters) cycles.
      retire(span);
      const mid = Math.ceil(span.clusters.length / 2);
      const halves = [span.clusters.slice(0, mid), span.clusters.slice(mid)].map((c) => this.span(table, c));
      this.spans.splice(i, 1, ...halves);
    }
    this.refresh();
  }

  private refresh(): void {
    this.current = this.spans.map((s) => s.read);
  }
}

function describeFailure(result: Exclude<ReadResult, { kind: 'ok' }>): string {
  switch (result.kind) {
    case 'exception':
      return exceptionText(result.code);
    case 'timeout':
      return 'timeout';
    case 'bad_frame':
      return `bad frame (${result.reason})`;
    case 'unavailable':
      return `unavailable: ${result.error}`;
  }
}
