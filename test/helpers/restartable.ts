// Restart tests: one data directory and a `boot` that (re)starts an in-process durable broker on it, gracefully
// stopping the previous one first. Every broker, client harness and the directory go at the end.

import type { WharfConfig } from '../../src/config/types.js';
import { newDataDir, removeDataDir, startBrokerOn, type DurableBroker } from './durable-broker.js';
import { Harness } from './sub-harness.js';

export type Boot = (tweak?: (c: WharfConfig) => void) => Promise<Harness>;

export async function onDataDir(prefix: string, fn: (boot: Boot) => Promise<void>): Promise<void> {
  const dataDir = newDataDir(prefix);
  const running: Array<{ db: DurableBroker; h: Harness }> = [];
  const stopAll = async () => {
    for (const r of running.splice(0)) {
      await r.h.close();
      await r.db.stop();
    }
  };
  const boot: Boot = async (tweak) => {
    await stopAll();
    const db = await startBrokerOn(dataDir, {}, tweak);
    const h = new Harness({ ...db, wsPort: 0, wsUrl: '' });
    running.push({ db, h });
    return h;
  };
  try {
    await fn(boot);
  } finally {
    await stopAll();
    removeDataDir(dataDir);
  }
}
