// app/ of a bundle: the compiled JavaScript, the board profiles, the production dependencies installed for the
// target with npm's --cpu/--os (so LMDB's, msgpackr's and serialport's prebuilt binaries are the target's), and
// the payload-store addon cross-compiled into native/prebuilds/, where node-gyp-build looks before a local build.

import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';
import type { Target } from './targets.js';

export interface ProjectPackage {
  name: string;
  version: string;
  description?: string;
  license?: string;
  type?: string;
  bin: Record<string, string>;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  scripts?: Record<string, string>;
}

export function readProjectPackage(root: string): ProjectPackage {
  return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as ProjectPackage;
}

export function stageApp(root: string, pkg: ProjectPackage, target: Target, appDir: string, headersDir: string): void {
  const compiled = join(root, 'dist', 'src');
  if (!existsSync(join(compiled, 'cli', 'main.js'))) throw new Error(`${compiled} has no cli/main.js: run "npm run build" first`);
  cpSync(compiled, join(appDir, 'dist', 'src'), { recursive: true });
  cpSync(join(root, 'boards'), join(appDir, 'boards'), { recursive: true });

  installDependencies(root, pkg, target, appDir);

  // The package.json the application reads (its version, bin.wharf): what package.json lists for production,
  // without the scripts (an install script would try a local build of the addon on the gateway).
  const { scripts: _scripts, devDependencies: _dev, ...runtime } = pkg;
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(runtime, null, 2)}\n`);

  const env = { ...process.env, PREBUILDS_DIR: join(appDir, 'native', 'prebuilds'), NODEDIR: headersDir };
  run(join(root, 'scripts', 'build-prebuilds.sh'), [target.nodeArch], { env });
  pruneForeignPrebuilds(join(appDir, 'node_modules'), `linux-${target.nodeArch}`);
}

/**
 * `npm ci` from the project's lockfile (the versions the tests ran), production dependencies only, for the
 * target's cpu and os. --ignore-scripts: no dependency may try to compile for this machine; the prebuilt
 * optional packages (@lmdb/lmdb-linux-arm64, ...) are what the target loads.
 */
function installDependencies(root: string, pkg: ProjectPackage, target: Target, appDir: string): void {
  const { scripts: _scripts, ...forInstall } = pkg;
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(forInstall, null, 2)}\n`);
  cpSync(join(root, 'package-lock.json'), join(appDir, 'package-lock.json'));
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--os=linux', `--cpu=${target.nodeArch}`, '--libc=glibc'], { cwd: appDir });
  rmSync(join(appDir, 'package-lock.json'));
}

/** Packages such as serialport ship prebuilds/<platform>-<arch>/ for every platform: keep the target's only. */
function pruneForeignPrebuilds(dir: string, keep: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    if (entry.name === 'prebuilds') {
      for (const platform of readdirSync(path)) if (platform !== keep && statSync(join(path, platform)).isDirectory()) rmSync(join(path, platform), { recursive: true });
    } else {
      pruneForeignPrebuilds(path, keep);
    }
  }
}
