// The log's entry encoder (src/store/log/entry-encoder.ts): byte for byte what msgpackr packs for the same entry
// with its strings interned (internEntry), for every kind of value an entry holds; entries with other values go
// through msgpackr; many entries one after another (past the encoder's first buffer) each read back whole.

import { Packr } from 'msgpackr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EntryEncoder } from '../../src/store/log/entry-encoder.js';
import { LogKind, type LogEntry } from '../../src/store/log/log-entry.js';
import { StringTable, internEntry } from '../../src/store/log/log-strings.js';

const encoder = suite('log entry encoder');
const packr = new Packr({ useRecords: false });

function append(topic: string, payload: Buffer | null, origin: string, extra: unknown[] = [7, 0, 0, false]): LogEntry {
  return [LogKind.SessionAppend, 3, 1_000_001, [[topic, 1, 0, payload, null, null, 0, origin], ...extra]];
}

/** The bodies the encoder wrote for `entries`, and what msgpackr gives for each with a table of its own. */
function both(entries: LogEntry[]): { ours: Buffer[]; theirs: Buffer[]; addedOurs: string[]; addedTheirs: string[] } {
  const e = new EntryEncoder();
  e.reset();
  const tableOurs = new StringTable();
  const tableTheirs = new StringTable();
  const addedOurs: string[] = [];
  const addedTheirs: string[] = [];
  for (const entry of entries) e.add(entry, tableOurs, addedOurs);
  const ours: Buffer[] = [];
  let from = 0;
  for (const end of e.ends) {
    ours.push(Buffer.from(e.data.subarray(from, end)));
    from = end;
  }
  const theirs = entries.map((entry) => Buffer.from(packr.pack(internEntry(tableTheirs, entry, addedTheirs))));
  return { ours, theirs, addedOurs, addedTheirs };
}

function same(entries: LogEntry[]): void {
  const { ours, theirs, addedOurs, addedTheirs } = both(entries);
  assert.is(ours.length, entries.length);
  for (let i = 0; i < entries.length; i++) assert.ok(ours[i]!.equals(theirs[i]!), `entry ${i}: ${ours[i]!.toString('hex')} vs ${theirs[i]!.toString('hex')}`);
  assert.equal(addedOurs, addedTheirs);
}

encoder('message appends: the same bytes as msgpackr, topic and origin by number after their first use', () => {
  same([
    append('sensors/line-1/temperature', Buffer.alloc(256, 1), 'publisher-0001'),
    append('sensors/line-1/temperature', Buffer.alloc(256, 2), 'publisher-0001'),
    append('a/b', Buffer.alloc(0), 'p'),
    append('sensors/line-1/temperature', null, 'publisher-0002', [7, 1, 3, true]),
    [LogKind.QueueAppend, 12, 4_294_967_296, [['images/cam-7', 1, 1, Buffer.alloc(255), null, null, 1_765_000_000_000, 'cam-7'], 0, 0], [5, true]],
    [LogKind.QueueAppend, 12, 5, [['images/cam-7', 1, 1, Buffer.alloc(70_000), null, null, 0, 'cam-7'], 0, 0], null],
  ]);
});

encoder('every integer width, floats, booleans, null, strings and buffers of each length class', () => {
  const numbers = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 0x100000000, 2 ** 53 - 1, -1, -0x20, -0x21,
    -0x80, -0x81, -0x8000, -0x8001, -(2 ** 31), -(2 ** 31) - 1, 0.5, -1.25, -0, Number.MAX_VALUE];
  const strings = ['', 'x', 'x'.repeat(31), 'x'.repeat(32), 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(255), 'x'.repeat(256),
    'x'.repeat(70_000), 'é'.repeat(20), 'é'.repeat(40), '€'.repeat(11), '😀'.repeat(8), 'a\ud800b', 'ü'.repeat(100)];
  const buffers = [0, 1, 255, 256, 65_535, 65_536].map((n) => Buffer.alloc(n, n & 0xff));
  same([
    [LogKind.Put, 2, numbers],
    [LogKind.Put, 2, strings],
    [LogKind.Put, 2, buffers],
    [LogKind.Remove, 6, [true, false, null, [], [[[]]], new Array(16).fill(1), new Array(70_000).fill(0)]],
    append('é/ü/€/😀'.repeat(3), Buffer.from('x'), 'origin-😀'),
  ]);
});

encoder('entries with other values (MQTT 5 properties, undefined) go through msgpackr whole, strings still interned', () => {
  const withProperties: LogEntry = [LogKind.SessionAppend, 3, 9, [['t/props', 1, 0, Buffer.from('p'), null, { contentType: 'text/plain', userProperties: { a: 'b' } }, 0, 'origin-1'], 1, 0]];
  same([
    append('t/props', Buffer.from('a'), 'origin-1'),
    withProperties,
    [LogKind.Put, 1, [undefined, 1]],
    append('t/props', Buffer.from('b'), 'origin-1'),
  ]);
  const { ours } = both([withProperties]);
  const back = packr.unpack(ours[0]!) as [number, number, number, [unknown[]]];
  assert.equal(back[3][0][5], { contentType: 'text/plain', userProperties: { a: 'b' } });
  assert.is(back[3][0][0], 0, 'the topic by its number');
});

encoder('thousands of entries one after another, past the first buffer: each reads back as written', () => {
  const entries: LogEntry[] = [];
  for (let i = 0; i < 3000; i++) entries.push(append(`site/${i % 17}/value`, Buffer.alloc(100 + (i % 300), i & 0xff), `dev-${i % 5}`, [i, i & 1, 0, false]));
  same(entries);
  const { ours, addedOurs } = both(entries);
  const back = packr.unpack(ours[2999]!) as [number, number, number, [unknown[], number]];
  assert.is(back[3][1], 2999);
  assert.ok(Buffer.from(back[3][0][3] as Uint8Array).equals(Buffer.alloc(100 + (2999 % 300), 2999 & 0xff)));
  assert.is(addedOurs.length, 17 + 5);
});

encoder.run();
