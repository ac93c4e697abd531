// The build's last line of defence: every ELF object in a bundle (the node binary, every .node addon) must be for
// the bundle's architecture, as file(1) sees it. A wrong one would only show on the gateway, as a crash at start.

import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PackageError, run } from './run.js';
import type { Target } from './targets.js';

function nativeFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) nativeFiles(path, out);
    else if (entry.isFile() && entry.name.endsWith('.node')) out.push(path);
  }
  return out;
}

/** Checks bundleDir/node/bin/node and every .node file; returns what was checked (relative path, file's words). */
export function checkArchitecture(bundleDir: string, target: Target): { path: string; description: string }[] {
  const files = [join(bundleDir, 'node', 'bin', 'node'), ...nativeFiles(join(bundleDir, 'app'))];
  const checked = files.map((path) => ({ path: relative(bundleDir, path), description: run('file', ['-b', path]).trim() }));
  const wrong = checked.filter((c) => !target.fileSays.test(c.description));
  if (wrong.length > 0) {
    throw new PackageError(`not for ${target.arch} (${target.fileSays}):\n${wrong.map((w) => `  ${w.path}: ${w.description}`).join('\n')}`);
  }
  if (!checked.some((c) => c.path.includes(`native/prebuilds/linux-${target.nodeArch}/`))) throw new PackageError('the payload-store addon is missing from the bundle');
  return checked;
}
