// The store's own byte counter of a running Wharf, read from its admin API's Prometheus text (GET /metrics):
// wharf_store_written_bytes_total (the commit log, LMDB and payload files together, src/store/metrics.ts) and
// wharf_store_log_written_bytes_total (the commit log's part), and wharf_store_log_prepared_bytes_total (zeros written
// ahead into log files, not in the total).
// Beside /proc/diskstats it splits a row's disk bytes into what the store wrote and what the file system and
// the rest of the machine added (the ext4 journal, other processes).

import http from 'node:http';

const STORE_WRITTEN = /^wharf_store_written_bytes_total (\d+(?:\.\d+)?(?:e\+\d+)?)$/m;
const LOG_WRITTEN = /^wharf_store_log_written_bytes_total (\d+(?:\.\d+)?(?:e\+\d+)?)$/m;
const LOG_PREPARED = /^wharf_store_log_prepared_bytes_total (\d+(?:\.\d+)?(?:e\+\d+)?)$/m;

/** Bytes the store wrote since its start: all of them, and those of the commit log. */
export interface StoreWritten {
  total: number;
  log: number;
  /** Zeros written ahead into log files (wharf_store_log_prepared_bytes_total), beside `total`; 0 if not exported. */
  logPrepared: number;
}
const TIMEOUT_MS = 2000;

/** The store's byte counters of the Wharf whose admin API listens on 127.0.0.1:`port`; null if unreadable. */
export function readStoreWrittenBytes(port: number): Promise<StoreWritten | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', timeout: TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        const total = res.statusCode === 200 ? STORE_WRITTEN.exec(body) : null;
        const log = res.statusCode === 200 ? LOG_WRITTEN.exec(body) : null;
        const prepared = res.statusCode === 200 ? LOG_PREPARED.exec(body) : null;
        resolve(total === null || log === null ? null : { total: Number(total[1]), log: Number(log[1]), logPrepared: Number(prepared?.[1] ?? 0) });
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
