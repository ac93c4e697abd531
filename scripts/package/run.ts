// Running the tools the packaging uses (npm, tar, file, dpkg-deb, the cross-build script): one call, its output,
// and a failure that says which command failed and what it printed last.

import { execFileSync } from 'node:child_process';

export class PackageError extends Error {
  override name = 'PackageError';
}

export function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const tail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new PackageError(`${command} ${args.join(' ')} failed${options.cwd ? ` (in ${options.cwd})` : ''}: ${tail || e.message}`);
  }
}

/** True when `command` can be found on the PATH. */
export function haveCommand(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
