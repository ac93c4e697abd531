// Child process of `wharf doctor --crash-test`: opens a store in the given directory with the configured commit
// settings and writes records as fast as commits allow, printing each record's number once the store has said
// it is durable. The parent kills it with SIGKILL at a random moment. Usage: crash-writer.js DIR STORAGE_JSON FIRST

import { Store } from '../store/store.js';
import { configuredStoreOptions } from '../store/open-configured.js';
import type { StorageConfig } from '../config/types.js';
import { CRASH_TOPIC_PREFIX, crashPayload } from './crash-payload.js';

const IN_FLIGHT = 16;

async function main(): Promise<void> {
  const [dir, storageJson, firstText] = process.argv.slice(2);
  const storage = { ...(JSON.parse(storageJson!) as StorageConfig), dataDir: dir! };
  const store = await Store.open(configuredStoreOptions(storage));
  process.stdout.write('open\n');
  let next = Number(firstText);
  const writeOne = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      await store.setRetained({ topic: `${CRASH_TOPIC_PREFIX}${n}`, payload: crashPayload(n, storage.inlineMaxBytes), qos: 1, retain: true, properties: undefined, expiresAt: 0, origin: '' });
      process.stdout.write(`${n}\n`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, writeOne));
}

main().catch((err) => {
  process.stderr.write(`crash-writer: ${(err as Error).message}\n`);
  process.exit(1);
});
