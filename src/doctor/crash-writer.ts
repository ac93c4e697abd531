// Child process of `wharf doctor --crash-test`: opens a store in the given directory with the configured commit
// settings and writes records as fast as commits allow, printing each record's number once the store has said
// it is durable. The parent kills it with SIGKILL at a random moment. A store that refuses a write for lack of
// space is doing its job: the writer then prints `full <reason>` once, stops writing and waits for the kill.
// Usage: crash-writer.js DIR STORAGE_JSON FIRST

import { Store } from '../store/store.js';
import { StoreFullError } from '../store/errors.js';
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
  let full = false;
  const writeOne = async (): Promise<void> => {
    while (!full) {
      const n = next++;
      try {
        await store.setRetained({ topic: `${CRASH_TOPIC_PREFIX}${n}`, payload: crashPayload(n, storage.inlineMaxBytes), qos: 1, retain: true, properties: undefined, expiresAt: 0, origin: '' });
      } catch (err) {
        if (!(err instanceof StoreFullError)) throw err;
        if (!full) process.stdout.write(`full ${err.message.replace(/\n/g, ' ')}\n`);
        full = true;
        return;
      }
      process.stdout.write(`${n}\n`);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, writeOne));
  setInterval(() => {}, 60_000); // kept alive for the parent's SIGKILL
}

main().catch((err) => {
  process.stderr.write(`crash-writer: ${(err as Error).message}\n`);
  process.exit(1);
});
