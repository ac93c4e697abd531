// The payload store over the native addon: appends of a commit window go out as one pwritev + one fdatasync per
// segment, reads are Buffers viewing the memory-mapped segment (DESIGN.md, "Storage").

import { loadSegmentsAddon } from './native-addon.js';
import { nativeSegmentIo } from './native-segment-io.js';
import { DEFAULT_SEGMENT_BYTES, SegmentPayloadStore, type SegmentPayloadStoreOptions } from './segment-payload-store.js';


export const NativePayloadStore = {
  /** True when the addon loads on this machine; `reason` says why not otherwise. */
  available(): { ok: true } | { ok: false; reason: string } {
    const loaded = loadSegmentsAddon();
    return 'addon' in loaded ? { ok: true } : { ok: false, reason: loaded.error };
  },

  /** Opens the store; throws when the addon is not available (check available() first). */
  open(dir: string, options: SegmentPayloadStoreOptions = {}): Promise<SegmentPayloadStore> {
    const loaded = loadSegmentsAddon();
    if (!('addon' in loaded)) throw new Error(`native payload store not available: ${loaded.error}`);
    // Segments are mapped at their full size once, not remapped as they grow.
    const io = nativeSegmentIo(loaded.addon, options.segmentMaxBytes ?? DEFAULT_SEGMENT_BYTES);
    return SegmentPayloadStore.openWith(dir, io, options);
  },
};
