// The clock: a gateway without a real-time clock (Raspberry Pi 4, Zero 2 W) boots at the last saved time until
// NTP answers, and offline it may never answer. Message expiry and retention count in wall-clock time, so a clock
// far behind keeps messages too long and one that jumps forward expires them at once.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from './types.js';

/** The newest modification time of the data directory's files (ms), 0 for none. */
function newestDataWrite(dataDir: string): number {
  let newest = 0;
  for (const sub of ['', 'lmdb', 'payloads']) {
    const dir = join(dataDir, sub);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      try {
        newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
      } catch {
        // removed meanwhile
      }
    }
  }
  return newest;
}

/**
 * builtAtMs: when this Wharf was built (its files' time): a clock before that is certainly wrong.
 * Synchronisation: systemd-timesyncd's flag file; chrony and ntpd leave none, so absence is "unknown".
 */
export function clockCheck(dataDir: string, builtAtMs: number, now = Date.now()): Check {
  const hasRtc = existsSync('/sys/class/rtc/rtc0');
  const synced = existsSync('/run/systemd/timesync/synchronized') ? true : undefined;
  const newest = newestDataWrite(dataDir);
  const details = { now: new Date(now).toISOString(), rtc: hasRtc, ntpSynchronized: synced ?? null, builtAt: new Date(builtAtMs).toISOString(), newestDataWrite: newest > 0 ? new Date(newest).toISOString() : null };
  const DAY = 86_400_000;
  if (now < builtAtMs - DAY) {
    return { name: 'clock', verdict: 'fail', summary: `the clock (${details.now}) is before this Wharf was built (${details.builtAt}): set it (no RTC and no NTP?); expiry and retention would be wrong`, details };
  }
  if (newest > now + 5 * 60_000) {
    return { name: 'clock', verdict: 'warn', summary: `the data directory was written at ${details.newestDataWrite}, after now (${details.now}): the clock went back since`, details };
  }
  const rtc = hasRtc ? 'a real-time clock' : 'no real-time clock (time comes from NTP or fake-hwclock)';
  return { name: 'clock', verdict: 'ok', summary: `${details.now}; ${rtc}; NTP ${synced ? 'synchronized' : 'state unknown'}`, details };
}
