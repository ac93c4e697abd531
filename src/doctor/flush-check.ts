// Whether the data directory's storage makes a flushed write durable, as far as can be seen from software: the
// filesystem (tmpfs keeps nothing over a power cut), the device's write cache setting, and whether the measured
// fdatasync latency is physically possible for the kind of device (a spinning disk cannot commit in 0.1 ms; an
// SD card in well under a millisecond only if it acknowledges writes from its cache).

import type { StorageDevice } from './storage-device.js';
import type { SyncLatency } from './disk-bench.js';
import type { Check } from './types.js';

/** Below these median fdatasync times the device most likely acknowledges from a volatile cache. */
const IMPLAUSIBLE_P50_MS: Partial<Record<StorageDevice['kind'], number>> = { hdd: 2, sd: 0.3, emmc: 0.1, usb: 0.3 };

export function flushCheck(device: StorageDevice, sync: SyncLatency): Check {
  const details = { fsType: device.fsType, kind: device.kind, writeCache: device.writeCache ?? null, fdatasyncP50Ms: sync.p50Ms };
  if (device.kind === 'ram') {
    return { name: 'flush', verdict: 'fail', summary: `${device.fsType} keeps data in RAM only: every message is lost at a power cut or reboot; put storage.dataDir on the SD card, eMMC or SSD`, details };
  }
  const floor = IMPLAUSIBLE_P50_MS[device.kind];
  if (floor !== undefined && sync.p50Ms < floor) {
    return { name: 'flush', verdict: 'warn', summary: `doubtful: fdatasync takes ${sync.p50Ms.toFixed(3)} ms (median) on ${device.kind}, faster than the device can write; it probably acknowledges flushes from a volatile cache`, details };
  }
  if (device.writeCache === 'write through') return { name: 'flush', verdict: 'ok', summary: 'honoured: the device has no volatile write cache (write through)', details };
  if (device.writeCache === 'write back') return { name: 'flush', verdict: 'ok', summary: `flushes are sent: the device caches writes (write back) and the kernel flushes its cache on fdatasync; median ${sync.p50Ms.toFixed(3)} ms is plausible for ${device.kind}`, details };
  return { name: 'flush', verdict: 'info', summary: `cannot be seen: ${device.kind === 'virtual' ? 'a virtual or layered device (the host decides what a flush does)' : 'no write-cache information for this device'}; median fdatasync ${sync.p50Ms.toFixed(3)} ms`, details };
}
