// Purging a queue (admin API): removes every message that is neither in flight nor waiting for redelivery,
// window by window, since most of a large backlog is on disk and only a bounded window is ever in memory.
// Deliveries in flight finish normally: a consumer working on a message is not pulled out from under it.

import type { Queue } from './queue.js';

export interface PurgeProgress {
  purged: number;
  /** Messages left that a purge can remove (estimate while it runs). */
  remaining: number;
}

/** A window read that brings nothing within this time means the rest is out of reach (in flight, superseded). */
const STALL_MS = 2000;
const PROGRESS_EVERY_MS = 200;

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

function purgeable(queue: Queue): number {
  return Math.max(0, queue.depth - queue.inflight - queue.waitingRedelivery);
}

/**
 * Purges `queue`, reporting progress at most every PROGRESS_EVERY_MS; resolves with the final figures. Stops
 * early once `stillWanted()` says no (the queue was deleted, the caller went away, the broker is stopping).
 */
export async function purgeQueue(
  queue: Queue,
  onProgress: (p: PurgeProgress) => void = () => undefined,
  stillWanted: () => boolean = () => true,
): Promise<PurgeProgress> {
  let purged = 0;
  // The first report comes after the first window, so even a quick purge of a large queue shows it is moving.
  let lastProgress = 0;
  let lastGain = Date.now();
  while (stillWanted()) {
    const n = queue.clearReady();
    purged += n;
    const now = Date.now();
    if (n > 0) lastGain = now;
    if (purgeable(queue) === 0 || now - lastGain > STALL_MS) break;
    if (n > 0 && now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      onProgress({ purged, remaining: purgeable(queue) });
    }
    // The next part of the backlog comes off the disk asynchronously; yield so the read (and traffic) can run.
    queue.loadMore();
    await tick();
  }
  return { purged, remaining: purgeable(queue) };
}
