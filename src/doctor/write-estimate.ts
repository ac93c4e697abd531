// Expected fsyncs per second and bytes written per day for a message rate, from the commit settings and the
// measured fdatasync latency. A model, not a measurement (/metrics has the measured figures once Wharf runs):
// - a commit starts when the disk is idle, so commits/s = min(rate, commitMaxPerSecond, 1000 / fdatasync p50);
//   a commit waits at most commitIntervalMs, so under a slower disk the batches grow instead;
// - each commit is one LMDB sync, plus one payload-file sync when it carries payloads over inlineMaxBytes;
// - LMDB copies on write: a commit writes the leaf pages its records fill, a branch or free-list page and the
//   meta page; a queued message is written twice (append, then the acknowledgement's delete). Checked against
//   wharf_store_written_bytes_total: 1000 queued 256 B messages, about 8 per commit, measured 11.5x, modelled 12x.

import type { StorageConfig } from '../config/types.js';

export interface WriteEstimate {
  messagesPerSecond: number;
  payloadBytes: number;
  commitsPerSecond: number;
  fsyncsPerSecond: number;
  messagesPerCommit: number;
  bytesPerDay: number;
  /** Bytes written to the device per payload byte accepted. */
  writeAmplification: number;
}

/** Record header, key and message fields stored beside a payload in LMDB (approximate). */
const RECORD_OVERHEAD_BYTES = 96;
const EXTRA_PAGES_PER_COMMIT = 2;

export function estimateWrites(storage: Pick<StorageConfig, 'commitMaxPerSecond' | 'inlineMaxBytes'>, syncP50Ms: number, messagesPerSecond: number, payloadBytes: number, pageBytes = 4096): WriteEstimate {
  const diskLimit = syncP50Ms > 0 ? 1000 / syncP50Ms : Infinity;
  const commitsPerSecond = Math.max(Math.min(messagesPerSecond, storage.commitMaxPerSecond, diskLimit), messagesPerSecond > 0 ? 1e-9 : 0);
  const messagesPerCommit = commitsPerSecond > 0 ? messagesPerSecond / commitsPerSecond : 0;
  const large = payloadBytes > storage.inlineMaxBytes;
  const fsyncsPerSecond = commitsPerSecond * (large ? 2 : 1);
  const inlineBytes = large ? RECORD_OVERHEAD_BYTES : payloadBytes + RECORD_OVERHEAD_BYTES;
  // Appends and deletes each rewrite the pages of a commit's worth of records.
  const pagesPerCommit = 2 * (Math.ceil((messagesPerCommit * inlineBytes) / pageBytes) + EXTRA_PAGES_PER_COMMIT);
  const lmdbBytesPerSecond = commitsPerSecond * pagesPerCommit * pageBytes;
  const payloadFileBytesPerSecond = large ? messagesPerSecond * payloadBytes : 0;
  const bytesPerSecond = lmdbBytesPerSecond + payloadFileBytesPerSecond;
  return {
    messagesPerSecond,
    payloadBytes,
    commitsPerSecond,
    fsyncsPerSecond,
    messagesPerCommit,
    bytesPerDay: bytesPerSecond * 86400,
    writeAmplification: messagesPerSecond > 0 && payloadBytes > 0 ? bytesPerSecond / (messagesPerSecond * payloadBytes) : 0,
  };
}
