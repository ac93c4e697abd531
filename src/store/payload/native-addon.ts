// Loads the payload-store addon (native/, built by node-gyp at `npm ci` or taken from native/prebuilds/) through
// node-gyp-build. Never throws: a machine without a compiler gets the reason, and Wharf the TypeScript fallback.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A segment file held open by the addon. Opaque to JavaScript. */
export type NativeSegmentHandle = { readonly __nativeSegment: unique symbol };

/** The addon's exports (native/src/segments.c). */
export interface SegmentsAddon {
  /** Opens (create: O_CREAT|O_EXCL) a segment; reads map at least mapHintBytes so a growing file is mapped once. */
  open(path: string, create: boolean, mapHintBytes: number): NativeSegmentHandle;
  size(handle: NativeSegmentHandle): number;
  /**
   * Maps the file (at least `length` and mapHintBytes bytes) and returns the mapping as an ArrayBuffer; it is
   * unmapped when the ArrayBuffer is collected. Bytes past the end of the file must not be read (SIGBUS).
   */
  map(handle: NativeSegmentHandle, length: number): ArrayBuffer;
  /** pwritev of all buffers at position (continuing short writes), then fdatasync when sync; on a worker thread. */
  write(handle: NativeSegmentHandle, position: number, buffers: Buffer[], sync: boolean): Promise<number>;
  truncate(handle: NativeSegmentHandle, length: number): Promise<number>;
  /**
   * Stops using the handle. With unlink the file is deleted now: mappings that Buffers still view are first moved
   * onto anonymous copies at the same addresses, so those Buffers stay valid and the disk space comes back at once.
   * Without unlink, fd and mappings go once no Buffer views them any more.
   */
  retire(handle: NativeSegmentHandle, unlink: boolean): void;
  /** Resources still held: open segments (fd, path), mappings and their bytes, mappings detached onto copies. */
  stats(): { segments: number; mappings: number; mappedBytes: number; detached: number };
  readonly pageSize: number;
}

/** native/ at the repository root: dist/src/store/payload -> ../../../../native, src/store/payload likewise. */
export const NATIVE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'native');

let loaded: { addon: SegmentsAddon } | { error: string } | undefined;

/** The addon, or why it could not be loaded (cached: loading is attempted once per process). */
export function loadSegmentsAddon(): { addon: SegmentsAddon } | { error: string } {
  if (loaded !== undefined) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const build = require('node-gyp-build') as (dir: string) => SegmentsAddon;
    const addon = build(NATIVE_DIR);
    if (typeof addon.open !== 'function' || typeof addon.map !== 'function') throw new Error('not the segments addon');
    loaded = { addon };
  } catch (err) {
    const first = String((err as Error).message ?? err).split('\n')[0];
    loaded = { error: first ?? 'unknown error' };
  }
  return loaded;
}
