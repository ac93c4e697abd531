// The payload-store implementations the payload tests run against: the TypeScript file store always, the native
// addon when it loads. Under CI=true a missing addon is a failure (the install must have built it); locally the
// native runs are skipped with a loud message.

import { suite } from 'uvu';
import { requireAvailable } from '../helpers/tools.js';
import { FilePayloadStore } from '../../src/store/payload/file-payload-store.js';
import { NativePayloadStore } from '../../src/store/payload/native-payload-store.js';
import type { PayloadStoreChoice } from '../../src/store/payload/open-payload-store.js';
import type { SegmentPayloadStore, SegmentPayloadStoreOptions } from '../../src/store/payload/segment-payload-store.js';

export interface PayloadImpl {
  name: 'js' | 'native';
  open(dir: string, options?: SegmentPayloadStoreOptions): Promise<SegmentPayloadStore>;
}

const native = NativePayloadStore.available();

export const PAYLOAD_IMPLS: PayloadImpl[] = [
  { name: 'js', open: (dir, options) => FilePayloadStore.open(dir, options) },
  ...(native.ok ? [{ name: 'native' as const, open: (dir: string, options?: SegmentPayloadStoreOptions) => NativePayloadStore.open(dir, options) }] : []),
];

/** storage.payloadStore values matching PAYLOAD_IMPLS (for Store.open). */
export const PAYLOAD_KINDS: PayloadStoreChoice[] = PAYLOAD_IMPLS.map((impl) => impl.name);

let reported = false;

/**
 * Call once per test file: the file's native runs are missing from PAYLOAD_IMPLS when the addon does not load, so
 * one test stands for them: skipped (counted, loud) locally, failing under CI=true (the install must build it).
 */
export function requireNativeInCi(file: string): void {
  if (native.ok || reported) return;
  reported = true;
  const check = suite(`${file}: native payload store`);
  requireAvailable(check, `the native addon does not load: ${native.reason}`)(`${file}: the runs against the native payload store`, () => {});
  check.run();
}

let gcFunction: (() => void) | undefined;

/**
 * Runs a full garbage collection and lets the finalizers that Node-API defers to the next turns run: the native
 * store deletes a segment only once no Buffer views it, so tests collect the Buffers they dropped first.
 */
export async function collectGarbage(): Promise<void> {
  if (gcFunction === undefined) {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i++) {
    gcFunction();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
