// `wharf passwd FILE USER`: adds or updates USER in a Mosquitto-format password file with a `$7$` entry.
// The password comes from a prompt (twice, not echoed) or, when stdin is not a terminal, from stdin's first
// line; never from the command line, where `ps` and shell history would show it.

import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { newPbkdf2Entry } from '../../auth/hashes/pbkdf2-sha512.js';
import { withUserEntry } from '../../auth/password-file.js';
import { ExitCode } from '../exit-codes.js';
import { readPassword } from './passwd-input.js';
import type { PasswdArgs } from './passwd-args.js';

export async function runPasswd(args: PasswdArgs): Promise<number> {
  const password = await readPassword(`Password for ${args.user}: `);
  if (typeof password !== 'string') {
    process.stderr.write(`wharf: ${password.error}\n`);
    return ExitCode.Usage;
  }
  const text = existsSync(args.file) ? readFileSync(args.file, 'utf8') : '';
  const entry = await newPbkdf2Entry(Buffer.from(password, 'utf8'));
  // Written beside the file and renamed over it: a broker reading it on SIGHUP never sees half a file.
  const tmp = `${args.file}.wharf-tmp`;
  writeFileSync(tmp, withUserEntry(text, args.user, entry), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, args.file);
  process.stderr.write(`wharf: ${args.user} set in ${args.file}\n`);
  return 0;
}
