// src/doctor/storage-device.ts: which mount and device hold the data directory, and what kind of storage it is.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { classify, existingAncestor, mountOf, parseMountInfo, storageDevice } from '../../src/doctor/storage-device.js';

const test = suite('doctor: storage device');

// Lines as a Raspberry Pi OS gateway and a container print them (mountinfo(5)); \040 is a space.
const MOUNTINFO = [
  '22 1 179:2 / / rw,noatime shared:1 - ext4 /dev/mmcblk0p2 rw',
  '23 22 179:1 / /boot/firmware rw,relatime shared:2 - vfat /dev/mmcblk0p1 rw,fmask=0022',
  '30 22 0:27 / /run rw,nosuid shared:5 - tmpfs tmpfs rw,size=94572k',
  '31 22 8:1 / /mnt/usb\\040disk rw,relatime shared:9 - ext4 /dev/sda1 rw',
  '32 22 8:1 / /var/lib/wharf rw,relatime shared:9 - ext4 /dev/sda1 rw',
].join('\n');

test('parseMountInfo reads mount point, type and source, unescaping octal', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  assert.is(mounts.length, 5);
  assert.equal(mounts[3], { mountPoint: '/mnt/usb disk', fsType: 'ext4', source: '/dev/sda1' });
});

test('mountOf picks the longest mount point containing the path, not a mere string prefix', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  assert.is(mountOf(mounts, '/var/lib/wharf')!.source, '/dev/sda1');
  assert.is(mountOf(mounts, '/var/lib/wharf/lmdb')!.source, '/dev/sda1');
  assert.is(mountOf(mounts, '/var/lib/wharfish')!.source, '/dev/mmcblk0p2');
  assert.is(mountOf(mounts, '/run/x')!.fsType, 'tmpfs');
  assert.is(mountOf(mounts, '/boot/firmware')!.fsType, 'vfat');
});

test('classify: SD vs eMMC, NVMe, USB, rotational, RAM, virtual', () => {
  assert.is(classify('mmcblk0', 'ext4', false, 'SD', true, undefined), 'sd');
  assert.is(classify('mmcblk0', 'ext4', false, 'MMC', false, undefined), 'emmc');
  assert.is(classify('nvme0n1', 'ext4', false, undefined, false, undefined), 'nvme');
  assert.is(classify('sda', 'ext4', false, undefined, false, 'usb'), 'usb');
  assert.is(classify('sda', 'ext4', true, undefined, false, undefined), 'hdd');
  assert.is(classify('sda', 'ext4', false, undefined, false, undefined), 'ssd');
  assert.is(classify(undefined, 'tmpfs', undefined, undefined, false, undefined), 'ram');
  assert.is(classify('vda', 'ext4', false, undefined, false, undefined), 'virtual');
  assert.is(classify(undefined, 'overlay', undefined, undefined, false, undefined), 'virtual');
});

test('storageDevice on this machine: a directory not created yet is measured at its nearest parent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wharf-dev-'));
  try {
    const d = storageDevice(join(dir, 'not', 'yet'));
    assert.is(d.path, existingAncestor(dir));
    assert.ok(d.totalBytes > 0 && d.freeBytes > 0 && d.freeBytes <= d.totalBytes);
    assert.ok(d.fsType.length > 0 && d.fsType !== 'unknown', d.fsType);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
