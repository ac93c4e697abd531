// A stored password hash of one of the formats a password file may hold, and its parser.

import { nodeCrypto } from '../../lazy-builtins.js';
import { sha512SaltedHash } from './sha512-salted.js';
import { PBKDF2_MAX_ITERATIONS, pbkdf2Sha512Hash } from './pbkdf2-sha512.js';
import { argon2idHash } from './argon2id.js';

export interface PasswordHash {
  readonly scheme: 'sha512' | 'sha512-pbkdf2' | 'argon2id';
  /** True when `password` (the CONNECT Password field's bytes) hashes to the stored value. */
  verify(password: Buffer): Promise<boolean>;
}

/** Constant-time comparison: how long it takes says nothing about how many leading bytes matched. */
export function equalDigests(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && nodeCrypto().timingSafeEqual(a, b);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function base64Field(text: string | undefined, what: string): Buffer | string {
  if (text === undefined || text.length === 0 || !BASE64.test(text)) return `${what} is not base64`;
  return Buffer.from(text, 'base64');
}

/** Parses the hash part of a `user:hash` line; a string says what is wrong with it. */
export function parsePasswordHash(text: string): PasswordHash | string {
  if (text.startsWith('$argon2id$')) return argon2idHash(text);
  const parts = text.split('$');
  // `$6$salt$hash` splits into ['', '6', salt, hash]; `$7$iterations$salt$hash` into ['', '7', n, salt, hash].
  if (parts[0] !== '' || parts.length < 4) return 'expected $6$salt$hash, $7$iterations$salt$hash or $argon2id$...';
  if (parts[1] === '6') {
    if (parts.length !== 4) return '$6$ entry must be $6$salt$hash';
    const salt = base64Field(parts[2], 'salt');
    const digest = base64Field(parts[3], 'hash');
    if (typeof salt === 'string') return salt;
    if (typeof digest === 'string') return digest;
    if (digest.length !== 64) return `$6$ hash is ${digest.length} bytes, expected 64 (SHA-512)`;
    return sha512SaltedHash(salt, digest);
  }
  if (parts[1] === '7') {
    if (parts.length !== 5) return '$7$ entry must be $7$iterations$salt$hash';
    const iterations = /^\d{1,8}$/.test(parts[2]!) ? Number(parts[2]) : NaN;
    if (!(iterations >= 1 && iterations <= PBKDF2_MAX_ITERATIONS)) return `$7$ iterations must be an integer 1-${PBKDF2_MAX_ITERATIONS}`;
    const salt = base64Field(parts[3], 'salt');
    const digest = base64Field(parts[4], 'hash');
    if (typeof salt === 'string') return salt;
    if (typeof digest === 'string') return digest;
    if (digest.length !== 64) return `$7$ hash is ${digest.length} bytes, expected 64`;
    return pbkdf2Sha512Hash(iterations, salt, digest);
  }
  return `unknown hash type $${parts[1]}$ (Wharf reads $6$, $7$ and $argon2id$)`;
}
