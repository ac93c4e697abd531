// wharf_<version>_<debian arch>.deb from a bundle, with dpkg-deb: the bundle as /opt/wharf, /usr/bin/wharf, the
// commented /etc/wharf/wharf.yaml (a conffile: an upgrade keeps local changes), the systemd unit and the
// maintainer scripts in scripts/install/ (user, data directory, service; purge removes them).

import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';
import type { Target } from './targets.js';

export interface DebInput {
  root: string;
  bundleDir: string;
  target: Target;
  version: string;
  description: string;
  outFile: string;
  /** dpkg-deb -Z: xz (smallest, the default) or gzip (fast, for tests). */
  compression: 'xz' | 'gzip';
}

export function buildDeb(input: DebInput): void {
  const { root, target } = input;
  const stage = mkdtempSync(join(input.outFile + '.'));
  try {
    const install = join(root, 'scripts', 'install');
    cpSync(input.bundleDir, join(stage, 'opt', 'wharf'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(stage, 'usr', 'bin'), { recursive: true });
    symlinkSync('/opt/wharf/bin/wharf', join(stage, 'usr', 'bin', 'wharf'));
    mkdirSync(join(stage, 'etc', 'wharf'), { recursive: true });
    cpSync(join(install, 'wharf.yaml'), join(stage, 'etc', 'wharf', 'wharf.yaml'));
    // /lib, not /usr/lib: Debian 12 and Raspberry Pi OS bookworm still ship units there (usrmerge makes both one).
    mkdirSync(join(stage, 'lib', 'systemd', 'system'), { recursive: true });
    cpSync(join(install, 'wharf.service'), join(stage, 'lib', 'systemd', 'system', 'wharf.service'));

    const control = join(stage, 'DEBIAN');
    mkdirSync(control);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      cpSync(join(install, 'deb', script), join(control, script));
      chmodSync(join(control, script), 0o755);
    }
    writeFileSync(join(control, 'conffiles'), '/etc/wharf/wharf.yaml\n');
    const installedKiB = Number(run('du', ['-sk', '--exclude=DEBIAN', stage]).split('\t')[0]);
    writeFileSync(
      join(control, 'control'),
      [
        'Package: wharf',
        `Version: ${input.version}`,
        `Architecture: ${target.debianArch}`,
        'Maintainer: Wharf maintainers <wharf@localhost>',
        `Installed-Size: ${installedKiB}`,
        // The bundled node links glibc (>= 2.28 for Node 20) and libstdc++; useradd comes from passwd.
        'Depends: libc6 (>= 2.28), libstdc++6, passwd',
        'Section: net',
        'Priority: optional',
        `Description: ${input.description}`,
        ' Self-contained: bundles its Node.js runtime, its native modules for this',
        ' architecture and a systemd unit. Data in /var/lib/wharf, configuration in',
        ' /etc/wharf/wharf.yaml.',
        '',
      ].join('\n'),
    );
    run('dpkg-deb', ['--root-owner-group', `-Z${input.compression}`, '--build', stage, input.outFile]);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
