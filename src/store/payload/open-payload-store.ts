// storage.payloadStore: which payload store Wharf opens. `auto` takes the native addon when it loads and the
// TypeScript fallback otherwise (with the reason, for the start-up log); `native` refuses to start without it.

import { StoreOpenError } from '../errors.js';
import { FilePayloadStore } from './file-payload-store.js';
import { NativePayloadStore } from './native-payload-store.js';
import type { PayloadStore } from './payload-store.js';
import type { SegmentPayloadStoreOptions } from './segment-payload-store.js';

export type PayloadStoreChoice = 'native' | 'js' | 'auto';

export interface OpenedPayloadStore {
  store: PayloadStore;
  /** Set when `auto` fell back to the TypeScript store: why the addon did not load. */
  fallbackReason: string | undefined;
}

export async function openPayloadStore(
  dir: string,
  choice: PayloadStoreChoice,
  options: SegmentPayloadStoreOptions,
): Promise<OpenedPayloadStore> {
  if (choice === 'js') return { store: await FilePayloadStore.open(dir, options), fallbackReason: undefined };
  const available = NativePayloadStore.available();
  if (available.ok) return { store: await NativePayloadStore.open(dir, options), fallbackReason: undefined };
  if (choice === 'native') {
    throw new StoreOpenError(
      dir,
      `storage.payloadStore is native but the addon does not load (${available.reason})`,
      'Run `npm rebuild` in the Wharf directory (needs python3, make and a C compiler), or set storage.payloadStore: auto',
    );
  }
  return { store: await FilePayloadStore.open(dir, options), fallbackReason: available.reason };
}
