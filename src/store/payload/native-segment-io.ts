// SegmentIo over the native addon: writes go out with pwritev + fdatasync on a libuv worker thread, reads are
// Buffers viewing the memory-mapped segment (no copy into the JavaScript heap, none on the way to a socket).

import type { NativeSegmentHandle, SegmentsAddon } from './native-addon.js';
import type { SegmentFile, SegmentIo } from './segment-io.js';
import { syncDirectory } from './segment-format.js';

class NativeSegment implements SegmentFile {
  private handle: NativeSegmentHandle | undefined;

  constructor(
    private readonly addon: SegmentsAddon,
    handle: NativeSegmentHandle,
  ) {
    this.handle = handle;
  }

  async write(buffers: Buffer[], position: number): Promise<void> {
    await this.addon.write(this.open(), position, buffers, true);
  }

  async read(position: number, length: number): Promise<Buffer> {
    const handle = this.open();
    const available = Math.min(length, this.addon.size(handle) - position);
    return available > 0 ? this.addon.view(handle, position, available) : Buffer.alloc(0);
  }

  /** The read of the hot path: a view, without a promise per payload when the caller is synchronous. */
  view(position: number, length: number): Buffer {
    return this.addon.view(this.open(), position, length);
  }

  async size(): Promise<number> {
    return this.addon.size(this.open());
  }

  async truncate(length: number): Promise<void> {
    await this.addon.truncate(this.open(), length);
  }

  async close(unlink: boolean): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) this.addon.retire(handle, unlink);
  }

  private open(): NativeSegmentHandle {
    if (this.handle === undefined) throw Object.assign(new Error('segment file is closed'), { code: 'ERR_WHARF_SEGMENT_CLOSED' });
    return this.handle;
  }
}

export function nativeSegmentIo(addon: SegmentsAddon, mapHintBytes: number): SegmentIo {
  return {
    kind: 'native',
    async create(dir, path) {
      const segment = new NativeSegment(addon, addon.open(path, true, mapHintBytes));
      await syncDirectory(dir);
      return segment;
    },
    async open(path) {
      return new NativeSegment(addon, addon.open(path, false, mapHintBytes));
    },
  };
}
