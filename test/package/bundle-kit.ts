// Packages built once per test run (uvu runs every suite in one process): `buildPackage` of scripts/package for
// an architecture into a temp directory, and the bundle unpacked from its tar.gz, as a gateway would get it.
// Building takes a minute or more per architecture (npm ci for the target, the Node runtime, the addon).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPackage, type PackageResult } from '../../scripts/package/main.js';
import type { PackageArch } from '../../scripts/package/targets.js';

export interface BuiltPackage extends PackageResult {
  /** The bundle unpacked from the tar.gz: <unpacked>/wharf-<version>-linux-<arch>/. */
  unpacked: string;
}

const built = new Map<string, Promise<BuiltPackage>>();
const dirs: string[] = [];
process.once('exit', () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The package for `arch`, built on first use in this run; with a .deb (gzip: fast) when `deb`. */
export function builtPackage(arch: PackageArch, deb = false): Promise<BuiltPackage> {
  const key = `${arch}:${deb}`;
  let p = built.get(key);
  if (p === undefined) {
    p = Promise.resolve().then(() => {
      const out = mkdtempSync(join(tmpdir(), `wharf-package-${arch}-`));
      dirs.push(out);
      const result = buildPackage({ arch, outDir: out, nodeVersion: process.versions.node, deb, debCompression: 'gzip', keepBundle: false });
      const unpackDir = join(out, 'unpacked');
      execFileSync('mkdir', ['-p', unpackDir]);
      execFileSync('tar', ['-xzf', result.tarball, '-C', unpackDir]);
      return { ...result, unpacked: join(unpackDir, result.bundleName) };
    });
    built.set(key, p);
  }
  return p;
}
