// `npm run package -- --arch arm64|armv7l|x64 [--arch ...]`: a self-contained Wharf per architecture in
// dist/packages/: wharf-<version>-linux-<arch>.tar.gz (one folder: bin/wharf, node/bin/node, app/) and
// wharf_<version>_<debian arch>.deb. Needs npm (registry or its cache), Debian's cross compilers, file, dpkg-deb.
// Options: --out DIR, --node-version V (default: this Node's), --no-deb, --deb-compression xz|gzip,
// --keep-bundle (leave the unpacked folder beside the archive).

import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readProjectPackage, stageApp } from './app.js';
import { checkArchitecture } from './check-arch.js';
import { buildDeb } from './deb.js';
import { run } from './run.js';
import { fetchRuntime, resolveRuntimeVersion } from './runtime.js';
import { TARGETS, isPackageArch, type PackageArch } from './targets.js';
import { mallocShellAssignments } from '../../src/cli/malloc-env.js';
import { EMBEDDED_NODE_FLAGS } from '../../src/cli/node-flags.js';

/** The repository root (this file runs from dist/scripts/package/). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface PackageOptions {
  arch: PackageArch;
  outDir: string;
  /** Wanted Node.js version; the newest of its major when the target's runtime package lacks it. */
  nodeVersion: string;
  deb: boolean;
  debCompression: 'xz' | 'gzip';
  keepBundle: boolean;
}

export interface PackageResult {
  bundleName: string;
  tarball: string;
  deb?: string;
  /** The unpacked bundle, when keepBundle. */
  bundleDir?: string;
  /** The Node.js version bundled. */
  nodeVersion: string;
  checked: { path: string; description: string }[];
}

// The launcher: the bundled node runs the bundled app whatever node the system has. readlink -f follows
// /usr/bin/wharf -> /opt/wharf/bin/wharf (coreutils and busybox both have it).
// Node gets the embedded default's flags and malloc settings, as npm start does (src/cli/node-flags.ts,
// src/cli/malloc-env.ts): a board's sizing replaces the flags; a malloc value already in the environment wins.
function launcher(entry: string): string {
  return `#!/bin/sh\n# Wharf launcher: runs the bundled application with the bundled Node.js runtime.\nhere=$(dirname "$(readlink -f "$0")")\nexport ${mallocShellAssignments()}\nexec "$here/../node/bin/node" ${EMBEDDED_NODE_FLAGS.join(' ')} "$here/../app/${entry}" "$@"\n`;
}

export function buildPackage(opts: PackageOptions): PackageResult {
  const target = TARGETS[opts.arch];
  const pkg = readProjectPackage(ROOT);
  const entry = pkg.bin.wharf;
  if (entry === undefined) throw new Error('package.json has no bin.wharf');
  const bundleName = `wharf-${pkg.version}-linux-${target.arch}`;
  mkdirSync(opts.outDir, { recursive: true });
  const work = mkdtempSync(join(opts.outDir, `.build-${target.arch}-`));
  try {
    const bundleDir = join(work, bundleName);
    const nodeVersion = resolveRuntimeVersion(target, opts.nodeVersion);
    if (nodeVersion === undefined) throw new Error(`${target.runtimePackage} has no release of Node ${opts.nodeVersion.split('.')[0]} on the registry`);
    const runtime = fetchRuntime(target, nodeVersion, join(bundleDir, 'node'));
    try {
      stageApp(ROOT, pkg, target, join(bundleDir, 'app'), runtime.headersDir);
    } finally {
      runtime.cleanup();
    }
    mkdirSync(join(bundleDir, 'bin'));
    writeFileSync(join(bundleDir, 'bin', 'wharf'), launcher(entry));
    chmodSync(join(bundleDir, 'bin', 'wharf'), 0o755);
    const checked = checkArchitecture(bundleDir, target);

    const tarball = join(opts.outDir, `${bundleName}.tar.gz`);
    run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-czf', tarball, '-C', work, bundleName]);
    const result: PackageResult = { bundleName, tarball, nodeVersion, checked };
    if (opts.deb) {
      result.deb = join(opts.outDir, `wharf_${pkg.version}_${target.debianArch}.deb`);
      buildDeb({ root: ROOT, bundleDir, target, version: pkg.version, description: pkg.description ?? 'Wharf MQTT broker', outFile: result.deb, compression: opts.debCompression });
    }
    if (opts.keepBundle) {
      const kept = join(opts.outDir, bundleName);
      rmSync(kept, { recursive: true, force: true });
      renameSync(bundleDir, kept);
      result.bundleDir = kept;
    }
    return result;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function parse(argv: string[]): { archs: PackageArch[]; opts: Omit<PackageOptions, 'arch'> } | string {
  const archs: PackageArch[] = [];
  const opts: Omit<PackageOptions, 'arch'> = { outDir: join(ROOT, 'dist', 'packages'), nodeVersion: process.versions.node, deb: true, debCompression: 'xz', keepBundle: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.includes('=') ? argv[i]!.split(/=(.*)/s) : [argv[i]!, undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--arch') {
      for (const a of value().split(/[|,]/)) {
        if (!isPackageArch(a)) return `--arch: expected arm64, armv7l or x64; got "${a}"`;
        archs.push(a);
      }
    } else if (flag === '--out') opts.outDir = resolve(value());
    else if (flag === '--node-version') opts.nodeVersion = value();
    else if (flag === '--no-deb') opts.deb = false;
    else if (flag === '--keep-bundle') opts.keepBundle = true;
    else if (flag === '--deb-compression') {
      const c = value();
      if (c !== 'xz' && c !== 'gzip') return `--deb-compression: expected xz or gzip; got "${c}"`;
      opts.debCompression = c;
    } else return `unknown option "${flag}"`;
  }
  if (archs.length === 0) return '--arch is required (arm64, armv7l or x64; several: --arch arm64 --arch x64)';
  return { archs, opts };
}

const size = (path: string) => `${(statSync(path).size / 1024 / 1024).toFixed(1)} MiB`;

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const parsed = parse(process.argv.slice(2));
  if (typeof parsed === 'string') {
    process.stderr.write(`package: ${parsed}\n`);
    process.exit(2);
  }
  for (const arch of parsed.archs) {
    const started = Date.now();
    try {
      const r = buildPackage({ ...parsed.opts, arch });
      process.stdout.write(`${r.bundleName}: Node ${r.nodeVersion}, ${r.checked.length} native files checked for ${arch}\n  ${r.tarball} (${size(r.tarball)})\n`);
      if (r.deb !== undefined && existsSync(r.deb)) process.stdout.write(`  ${r.deb} (${size(r.deb)})\n`);
      process.stdout.write(`  built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      process.stderr.write(`package ${arch}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  }
}
