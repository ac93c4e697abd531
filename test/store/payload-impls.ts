// The payload-store implementations the payload tests run against: the TypeScript file store always, the native
// addon when it loads. Under CI=true a missing addon is a failure (the install must have built it); locally the
// native runs are skipped with a loud message.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
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

/** Call once per test file: fails under CI=true when the addon does not load, warns loudly otherwise. */
export function requireNativeInCi(file: string): void {
  if (native.ok || reported) return;
  reported = true;
  if (process.env.CI === 'true') {
    const check = suite(`${file}: native payload store`);
    check('the native addon loads (CI=true)', () => {
      assert.unreachable(`native addon did not load: ${native.reason}`);
    });
    check.run();
  } else {
    const bar = '!'.repeat(78);
    console.warn(`\n${bar}\n!! ${file}: native payload store NOT TESTED, the addon does not load:\n!!   ${native.reason}\n!! (under CI=true this fails)\n${bar}\n`);
  }
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
