// Which filesystem and block device hold the data directory: /proc/self/mountinfo for the filesystem, the
// directory's st_dev and /sys/dev/block for the device, its kind of storage (SD card, eMMC, NVMe, USB, disk)
// and whether it has a volatile write cache the kernel must flush (queue/write_cache).

import { existsSync, readFileSync, readlinkSync, realpathSync, statSync, statfsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export type StorageKind = 'sd' | 'emmc' | 'nvme' | 'usb' | 'ssd' | 'hdd' | 'ram' | 'virtual' | 'unknown';

export interface StorageDevice {
  /** The existing directory the figures are for (the data directory, or its nearest existing parent). */
  path: string;
  mountPoint: string;
  fsType: string;
  source: string;
  /** Block device name (mmcblk0, sda, nvme0n1), undefined for tmpfs, overlay on a virtual device, etc. */
  disk: string | undefined;
  kind: StorageKind;
  /** /sys/block/<disk>/queue/write_cache: "write back" (volatile cache, flushes matter) or "write through". */
  writeCache: string | undefined;
  rotational: boolean | undefined;
  model: string | undefined;
  freeBytes: number;
  totalBytes: number;
}

interface Mount {
  mountPoint: string;
  fsType: string;
  source: string;
}

/** mountinfo(5): "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue". */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 3) continue;
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({ mountPoint: unescape(fields[4]!), fsType: fields[dash + 1]!, source: unescape(fields[dash + 2]!) });
  }
  return mounts;
}

/** The mount holding `path`: the last-mounted one with the longest mount point that is a prefix of it. */
export function mountOf(mounts: Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const prefix = m.mountPoint === '/' ? '/' : `${m.mountPoint}/`;
    if (path !== m.mountPoint && !path.startsWith(prefix)) continue;
    if (best === undefined || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  return best;
}

/** The nearest existing directory of `dir` (a data directory not created yet is measured where it will be). */
export function existingAncestor(dir: string): string {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return realpathSync(p);
}

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Linux dev_t split (glibc's gnu_dev_major/minor). */
function majorMinor(dev: number): [number, number] {
  const big = BigInt(dev);
  const major = Number(((big >> 8n) & 0xfffn) | ((big >> 32n) & ~0xfffn));
  const minor = Number((big & 0xffn) | ((big >> 12n) & ~0xffn));
  return [major, minor];
}

/** The whole disk of a block device (sda for sda1, mmcblk0 for mmcblk0p2), from /sys/dev/block/M:m. */
function diskOf(dev: number): string | undefined {
  const [major, minor] = majorMinor(dev);
  if (major === 0) return undefined; // anonymous: tmpfs, overlay, btrfs subvolumes
  const link = `/sys/dev/block/${major}:${minor}`;
  try {
    const target = resolve(dirname(link), readlinkSync(link));
    return existsSync(join(target, 'partition')) ? basename(dirname(target)) : basename(target);
  } catch {
    return undefined;
  }
}

export function classify(disk: string | undefined, fsType: string, rotational: boolean | undefined, mmcType: string | undefined, removable: boolean, transport: string | undefined): StorageKind {
  if (fsType === 'tmpfs' || fsType === 'ramfs') return 'ram';
  if (disk === undefined) return fsType === 'overlay' ? 'virtual' : 'unknown';
  if (disk.startsWith('mmcblk')) return mmcType === 'MMC' ? 'emmc' : 'sd';
  if (disk.startsWith('nvme')) return 'nvme';
  if (/^(vd|xvd)/.test(disk)) return 'virtual';
  if (transport === 'usb' || (removable && disk.startsWith('sd'))) return 'usb';
  if (rotational === true) return 'hdd';
  if (rotational === false) return 'ssd';
  return 'unknown';
}

export function storageDevice(dataDir: string, mountInfo = readSys('/proc/self/mountinfo') ?? ''): StorageDevice {
  const path = existingAncestor(dataDir);
  const mount = mountOf(parseMountInfo(mountInfo), path) ?? { mountPoint: '/', fsType: 'unknown', source: 'unknown' };
  const disk = diskOf(statSync(path).dev);
  const sys = disk === undefined ? undefined : `/sys/block/${disk}`;
  const rot = sys && readSys(`${sys}/queue/rotational`);
  const rotational = rot === undefined || rot === '' ? undefined : rot === '1';
  // The transport of a SCSI disk shows in its sysfs path (…/usb1/…); an MMC device says SD or MMC in device/type.
  let transport: string | undefined;
  if (sys) {
    try {
      transport = realpathSync(sys).includes('/usb') ? 'usb' : undefined;
    } catch {
      transport = undefined;
    }
  }
  const kind = classify(disk, mount.fsType, rotational, sys && readSys(`${sys}/device/type`), sys !== undefined && readSys(`${sys}/removable`) === '1', transport);
  const fs = statfsSync(path);
  return {
    path,
    mountPoint: mount.mountPoint,
    fsType: mount.fsType,
    source: mount.source,
    disk,
    kind,
    writeCache: sys && readSys(`${sys}/queue/write_cache`),
    rotational,
    model: sys && (readSys(`${sys}/device/model`) ?? readSys(`${sys}/device/name`)),
    freeBytes: fs.bavail * fs.bsize,
    totalBytes: fs.blocks * fs.bsize,
  };
}
