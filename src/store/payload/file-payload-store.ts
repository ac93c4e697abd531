// The payload store over plain file I/O: the TypeScript reference implementation and the fallback where the
// native addon is not available. Bookkeeping in segment-payload-store.ts, file access in file-segment-io.ts.

import { fileSegmentIo } from './file-segment-io.js';
import { SegmentPayloadStore, type SegmentPayloadStoreOptions } from './segment-payload-store.js';

export type FilePayloadStoreOptions = SegmentPayloadStoreOptions;

export const FilePayloadStore = {
  open(dir: string, options: FilePayloadStoreOptions = {}): Promise<SegmentPayloadStore> {
    return SegmentPayloadStore.openWith(dir, fileSegmentIo, options);
  },
};
