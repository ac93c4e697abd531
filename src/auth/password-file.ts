// Mosquitto's password file (password_file): one `user:hash` line per user, `#` comments and blank lines ignored.
// A malformed line is reported with its number and skipped; the rest loads (issue 17).

import { readFileSync } from 'node:fs';
import { parsePasswordHash, type PasswordHash } from './hashes/password-hash.js';
import { newPbkdf2Entry } from './hashes/pbkdf2-sha512.js';

export interface PasswordFileProblem {
  line: number;
  message: string;
}

export class PasswordFile {
  private constructor(
    private readonly users: ReadonlyMap<string, PasswordHash>,
    readonly problems: readonly PasswordFileProblem[],
  ) {}

  get size(): number {
    return this.users.size;
  }

  has(user: string): boolean {
    return this.users.has(user);
  }

  static parse(text: string): PasswordFile {
    const users = new Map<string, PasswordHash>();
    const problems: PasswordFileProblem[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line.trim().length === 0 || line.startsWith('#')) continue;
      // The user name is everything before the first colon (Mosquitto: user names cannot hold one).
      const colon = line.indexOf(':');
      if (colon <= 0) {
        problems.push({ line: i + 1, message: 'expected user:hash' });
        continue;
      }
      const user = line.slice(0, colon);
      const hash = parsePasswordHash(line.slice(colon + 1));
      if (typeof hash === 'string') {
        problems.push({ line: i + 1, message: `user ${JSON.stringify(user)}: ${hash}` });
        continue;
      }
      if (users.has(user)) problems.push({ line: i + 1, message: `user ${JSON.stringify(user)} appears again; this later line wins` });
      users.set(user, hash);
    }
    return new PasswordFile(users, problems);
  }

  static load(path: string): PasswordFile {
    return PasswordFile.parse(readFileSync(path, 'utf8'));
  }

  /**
   * True when `user` exists and `password` matches. An unknown user costs one verification of a fixed hash too,
   * so the answer's timing does not tell which user names exist.
   */
  async verify(user: string, password: Buffer | undefined): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) {
      await (await decoy()).verify(password ?? Buffer.alloc(0));
      return false;
    }
    if (password === undefined) return false;
    return hash.verify(password);
  }
}

let decoyHash: Promise<PasswordHash> | undefined;
function decoy(): Promise<PasswordHash> {
  decoyHash ??= newPbkdf2Entry(Buffer.from('wharf-decoy')).then((text) => parsePasswordHash(text) as PasswordHash);
  return decoyHash;
}

/**
 * The password file's text with `user`'s line set to `hashText` (added at the end when new), keeping every
 * other line, comments included, as it was.
 */
export function withUserEntry(text: string, user: string, hashText: string): string {
  const lines = text.length === 0 ? [] : text.replace(/\n$/, '').split('\n');
  const entry = `${user}:${hashText}`;
  const at = lines.findIndex((l) => l.startsWith(`${user}:`));
  if (at >= 0) lines[at] = entry;
  else lines.push(entry);
  return `${lines.join('\n')}\n`;
}
