// Bytes written to the machine's disks, from /proc/diskstats: what reached the devices, for write amplification
// next to /proc/<pid>/io write_bytes (which the kernel charges per dirtied page-cache folio, an over-count for
// small scattered writes on kernels with large folios).

import { readFileSync } from 'node:fs';

/** Sectors written × 512 over all whole disks (no partitions); all processes; NaN if unknown. */
export function deviceWriteBytes(): number {
  try {
    let sum = NaN;
    for (const l of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = l.trim().split(/\s+/);
      // field 10 = sectors written (512 bytes each)
      if (f.length < 10 || !/^(vd[a-z]+|sd[a-z]+|xvd[a-z]+|nvme\d+n\d+|mmcblk\d+)$/.test(f[2]!)) continue;
      sum = (Number.isNaN(sum) ? 0 : sum) + Number(f[9]) * 512;
    }
    return sum;
  } catch {
    return NaN;
  }
}
