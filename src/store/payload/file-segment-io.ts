// SegmentIo over node:fs/promises: vectored writes and datasync through libuv, reads copied into new Buffers.
// The fallback where the native addon is not available, and the reference in tests.

import { open, unlink as unlinkFile, type FileHandle } from 'node:fs/promises';
import type { SegmentFile, SegmentIo } from './segment-io.js';
import { createSegmentFile } from './segment-format.js';

class FileSegment implements SegmentFile {
  constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  async write(buffers: Buffer[], position: number): Promise<void> {
    let offset = position;
    let pending = buffers;
    // FileHandle.writev may write less than asked (signals, quotas): continue where it stopped.
    for (;;) {
      const { bytesWritten } = await this.handle.writev(pending, offset);
      const total = pending.reduce((sum, b) => sum + b.length, 0);
      if (bytesWritten >= total) break;
      if (bytesWritten === 0) throw Object.assign(new Error(`short write to ${this.path}`), { code: 'EIO' });
      offset += bytesWritten;
      let skip = bytesWritten;
      const rest: Buffer[] = [];
      for (const b of pending) {
        if (skip >= b.length) {
          skip -= b.length;
          continue;
        }
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
      pending = rest;
    }
    await this.handle.datasync();
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.handle.read(buffer, 0, length, position);
    return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  async truncate(length: number): Promise<void> {
    await this.handle.truncate(length);
    await this.handle.datasync();
  }

  async close(unlink: boolean): Promise<void> {
    await this.handle.close().catch(() => undefined);
    if (unlink) await unlinkFile(this.path).catch(() => undefined);
  }
}

export const fileSegmentIo: SegmentIo = {
  kind: 'js',
  async create(dir, path) {
    return new FileSegment(path, await createSegmentFile(dir, path));
  },
  async open(path) {
    return new FileSegment(path, await open(path, 'r+'));
  },
};
