// Shared pieces of the store tests: temporary data directories and message builders.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logFileName, parseLogFileName, scanLogFile, type ScannedRecord } from '../../src/store/log/log-format.js';
import type { SessionState, StoredMessage, StoredOutgoing } from '../../src/store/types.js';

const made: string[] = [];

/** A fresh directory under the OS temp dir; removed by removeTempDirs(). */
export function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `wharf-${label}-`));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function message(i: number, payloadBytes = 32, topic = `site/1/sensor/${i}`): StoredMessage {
  const payload = Buffer.alloc(payloadBytes, i & 0xff);
  payload.writeUInt32BE(i >>> 0, 0);
  return { topic, payload, qos: 1, retain: false, properties: undefined, expiresAt: 0, origin: 'publisher' };
}

export function outgoing(msg: StoredMessage, packetId = 0): StoredOutgoing {
  return { message: msg, qos: 1, retain: false, subscriptionIds: undefined, packetId, released: false };
}

export function session(clientId: string, subscriptions: SessionState['subscriptions'] = []): SessionState {
  return { clientId, protocolVersion: 5, sessionExpiryInterval: 3600, disconnectedAt: null, subscriptions };
}

/** The records in the commit log's files of `dataDir` (<dataDir>/log), in file order: what is on the disk. */
export function logRecordsOnDisk(dataDir: string): ScannedRecord[] {
  const dir = join(dataDir, 'log');
  const ids = readdirSync(dir).map(parseLogFileName).filter((id): id is number => id !== undefined).sort((a, b) => a - b);
  return ids.flatMap((id) => scanLogFile(id, readFileSync(join(dir, logFileName(id)))).records);
}
