// Zero-copy reads of the native payload store: a Buffer read from a segment stays valid while JavaScript holds
// it, across the payload's free, the segment's deletion and compaction, while the file goes at once (its
// mapping is moved onto an anonymous copy; only that waits for the garbage collector). Also: the addon checks
// its arguments instead of crashing.

import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadSegmentsAddon, type SegmentsAddon } from '../../src/store/payload/native-addon.js';
import { NativePayloadStore } from '../../src/store/payload/native-payload-store.js';
import { removeTempDirs, tempDir } from './helpers.js';
import { collectGarbage, requireNativeInCi } from './payload-impls.js';

requireNativeInCi('payload-lifetime.test');

function payload(i: number, bytes = 64 * 1024): Buffer {
  const b = Buffer.alloc(bytes, i & 0xff);
  b.writeUInt32BE(i, 0);
  return b;
}

const loaded = loadSegmentsAddon();

if ('addon' in loaded) {
  const addon: SegmentsAddon = loaded.addon;
  const lifetime = suite('native payload Buffers (zero-copy)');
  lifetime.after.each(removeTempDirs);

  lifetime('a read Buffer outlives free and segment deletion; the file goes at once, the copy when the Buffer is collected', async () => {
    await collectGarbage();
    const before = addon.stats();
    const dir = tempDir('lifetime');
    const store = await NativePayloadStore.open(dir, { segmentMaxBytes: 1 << 20 });
    const ref = store.append(payload(1));
    await store.flush();
    store.append(payload(2)); // rotates nothing; segment 1 stays the active one until close
    await store.flush();
    await store.close();
    const reopened = await NativePayloadStore.open(dir, { segmentMaxBytes: 1 << 20 });
    await reopened.reconcile([ref]);
    await collectGarbage(); // the mapping reconcile read the tail through, dropped when it cut the tail
    let held: Buffer | undefined = await reopened.read(ref);
    assert.is(addon.stats().mappings, before.mappings + 1);
    reopened.free(ref); // last owner: segment 1 is deleted
    await reopened.close();
    const file = join(dir, 'seg-0000000001.wps');
    assert.not.ok(existsSync(file), 'deleted although a Buffer still views it: no garbage collection needed');
    assert.is(addon.stats().segments, before.segments, 'file descriptor closed');
    assert.is(addon.stats().detached, before.detached + 1, 'the mapping is now an anonymous copy');
    await collectGarbage();
    assert.equal(held, payload(1), 'content intact after free and deletion');
    held = undefined;
    await collectGarbage();
    const after = addon.stats();
    assert.is(after.detached, before.detached, 'the copy went with the Buffer');
    assert.is(after.mappings, before.mappings);
    assert.is(after.mappedBytes, before.mappedBytes);
    assert.is(after.segments, before.segments);
  });

  lifetime('a Buffer from before compaction stays valid after the old segment is compacted away', async () => {
    const dir = tempDir('lifetime');
    const store = await NativePayloadStore.open(dir, { segmentMaxBytes: 200 * 1024 });
    const refs = [1, 2, 3].map((i) => store.append(payload(i)));
    store.append(payload(4)); // segment 2
    await store.flush();
    let held: Buffer | undefined = await store.read(refs[1]!);
    store.free(refs[0]!);
    store.free(refs[2]!);
    assert.equal(store.beginCompaction(0.5, 1 << 20), [1]);
    const copy = await store.copyForward(refs[1]!);
    await store.flush();
    store.moveOwners(refs[1]!, copy, 1);
    store.endCompaction([1]);
    await store.close();
    assert.not.ok(existsSync(join(dir, 'seg-0000000001.wps')), 'compacted away at once');
    await collectGarbage();
    assert.equal(held, payload(2));
    held = undefined;
  });

  lifetime('a payload Buffer written to a socket arrives whole although its segment was deleted meanwhile', async () => {
    const dir = tempDir('lifetime');
    const store = await NativePayloadStore.open(dir);
    const big = payload(7, 12 * 1024 * 1024);
    const ref = store.append(big);
    store.free(store.append(payload(8)));
    await store.flush();
    let view: Buffer | undefined = await store.read(ref);
    const received: Buffer[] = [];
    let ended: () => void = () => undefined;
    const closed = new Promise<void>((resolve) => (ended = resolve));
    let accepted: (socket: import('node:net').Socket) => void = () => undefined;
    const serverSide = new Promise<import('node:net').Socket>((resolve) => (accepted = resolve));
    const server = createServer((socket) => {
      socket.pause(); // nothing is read until the segment is gone: the rest of the write waits in the client
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', ended);
      accepted(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', resolve));
    try {
      client.end(view);
      view = undefined;
      store.free(ref); // the active segment, all dead and over 1 MiB: deleted now, in the middle of the write
      await store.close(); // waits for the deletion
      assert.not.ok(existsSync(join(dir, 'seg-0000000001.wps')), 'deleted during the write');
      assert.ok(client.writableLength > 0, 'part of the payload still waits to be written from the mapping');
      await collectGarbage();
      (await serverSide).resume();
      await closed;
      assert.ok(Buffer.concat(received).equals(big));
    } finally {
      client.destroy();
      (await serverSide).destroy();
      server.close();
    }
  });

  lifetime('writing into a payload Buffer neither crashes nor changes the file', async () => {
    const dir = tempDir('lifetime');
    const store = await NativePayloadStore.open(dir);
    const ref = store.append(payload(3));
    await store.flush();
    const view = await store.read(ref);
    view.fill(0xee, 0, 100);
    await store.close();
    const onDisk = readFileSync(join(dir, 'seg-0000000001.wps')).subarray(ref.offset + 12, ref.offset + 12 + ref.length);
    assert.ok(onDisk.equals(payload(3)));
  });

  lifetime('the addon rejects bad arguments with exceptions', () => {
    const dir = tempDir('lifetime');
    assert.throws(() => addon.open('', true, 0), /path/);
    assert.throws(() => addon.open(join(dir, 'missing.wps'), false, 0), /cannot open segment/);
    const handle = addon.open(join(dir, 'x.wps'), true, 4096);
    assert.throws(() => addon.open(join(dir, 'x.wps'), true, 4096), /File exists/);
    assert.throws(() => addon.map(handle, -1), /non-negative/);
    assert.throws(() => addon.map({} as never, 10), /segment handle/);
    assert.throws(() => addon.write(handle, 0, ['x' as never], true), /array of Buffers/);
    addon.retire(handle, true);
    assert.throws(() => addon.size(handle), /retired/);
    assert.not.ok(existsSync(join(dir, 'x.wps')));
  });

  lifetime.run();
}
