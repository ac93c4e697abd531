// One consumer draining a Wharf queue ($q/<filter>, PUBACK on receipt) until the caller says it is done, bounded
// in time: the loop of the queue benchmarks (lastvalue.ts, payloads.ts). The caller counts what arrives.

import { performance } from 'node:perf_hooks';
import { LoadClient } from './load-client.js';

export interface QueueDrainOptions {
  port: number;
  /** Queue topic filter; the consumer subscribes `$q/<filter>` at QoS 1. */
  filter: string;
  clientId: string;
  onPublish: (payload: Buffer) => void;
  /** Checked every 20 ms: true ends the drain. */
  done: () => boolean;
  /** performance.now() of the last message received (negative: none yet). */
  lastReceived: () => number;
  /** An error when nothing arrives for this long (from the start, or from the last message). */
  idleMs: number;
  /** An error when the drain takes longer than this. */
  limitMs: number;
}

/** Resolves with the drain's start time and what stopped it early (null when `done()` ended it). */
export async function drainQueue(o: QueueDrainOptions): Promise<{ t0: number; error: string | null }> {
  let error: string | null = null;
  const t0 = performance.now();
  const consumer = await LoadClient.connect({ port: o.port, clientId: o.clientId, protocolVersion: 4, onPublish: o.onPublish });
  try {
    await consumer.subscribe([{ topic: `$q/${o.filter}`, qos: 1 }]);
    while (!o.done()) {
      await new Promise<void>((r) => setTimeout(r, 20));
      const now = performance.now();
      const last = o.lastReceived();
      if (now - (last < 0 ? t0 : last) > o.idleMs) {
        error = `nothing received for ${o.idleMs / 1000} s`;
        break;
      }
      if (now - t0 > o.limitMs) {
        error = `not drained within ${o.limitMs / 1000} s`;
        break;
      }
      if (consumer.isClosed) {
        error = 'consumer connection closed by the broker';
        break;
      }
    }
  } finally {
    await consumer.end(2000).catch(() => undefined);
  }
  return { t0, error };
}
