// SegmentIo over the native addon: writes go out with pwritev + fdatasync on a libuv worker thread, reads are
// Buffers cut out of the memory-mapped segment (no copy into the JavaScript heap, none on the way to a socket).

import type { NativeSegmentHandle, SegmentsAddon } from './native-addon.js';
import type { SegmentFile, SegmentIo } from './segment-io.js';
import { syncDirectory } from './segment-format.js';

class NativeSegment implements SegmentFile {
  private handle: NativeSegmentHandle | undefined;
  /** The current mapping; payload Buffers are views of it and keep it (and so the mapping) alive. */
  private mapped: ArrayBuffer | undefined;
  /** Length of the file as last seen: reads within it need no fstat. */
  private knownSize = 0;

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
    let end = position + length;
    if (end > this.knownSize) {
      // Never cut a Buffer past the end of the file: touching such a page raises SIGBUS.
      this.knownSize = this.addon.size(handle);
      end = Math.min(end, this.knownSize);
      if (end <= position) return Buffer.alloc(0);
    }
    if (this.mapped === undefined || end > this.mapped.byteLength) this.mapped = this.addon.map(handle, end);
    return Buffer.from(this.mapped, position, end - position);
  }

  async size(): Promise<number> {
    return (this.knownSize = this.addon.size(this.open()));
  }

  async truncate(length: number): Promise<void> {
    this.mapped = undefined;
    this.knownSize = 0;
    await this.addon.truncate(this.open(), length);
  }

  async close(unlink: boolean): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.mapped = undefined;
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
