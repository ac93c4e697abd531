// Mosquitto's `$7$<iterations>$<salt>$<hash>` entries (mosquitto_passwd's default since 2.0): PBKDF2-HMAC-SHA512
// with a 64-byte output. Wharf writes this form too (README, Security): node:crypto runs it on the libuv thread
// pool, so a login never blocks the event loop, and the file stays readable by every Mosquitto 2.x.

import { nodeCrypto } from '../../lazy-builtins.js';
import { equalDigests, type PasswordHash } from './password-hash.js';

export const PBKDF2_DIGEST_BYTES = 64;
/** Most iterations accepted when reading: a bigger number in a hostile file would make each login a CPU burn. */
export const PBKDF2_MAX_ITERATIONS = 10_000_000;
/**
 * What `wharf passwd` writes (README, Security, cost): about 50 ms on one x86 server core and 0.2-0.3 s on one
 * Cortex-A72 core (Raspberry Pi 4), so 100 devices reconnecting at once after a power cut are in within seconds on
 * four cores, while an offline guess costs 500 times Mosquitto's default of 101 iterations.
 */
export const WHARF_PBKDF2_ITERATIONS = 50_000;
export const WHARF_SALT_BYTES = 16;

function derive(password: Buffer, salt: Buffer, iterations: number, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => nodeCrypto().pbkdf2(password, salt, iterations, bytes, 'sha512', (err, key) => (err ? reject(err) : resolve(key))));
}

export function pbkdf2Sha512Hash(iterations: number, salt: Buffer, digest: Buffer): PasswordHash {
  return {
    scheme: 'sha512-pbkdf2',
    verify: async (password) => equalDigests(await derive(password, salt, iterations, digest.length), digest),
  };
}

/** A new `$7$` entry's hash text for `password`, with a fresh random salt. */
export async function newPbkdf2Entry(password: Buffer, iterations = WHARF_PBKDF2_ITERATIONS): Promise<string> {
  const salt = nodeCrypto().randomBytes(WHARF_SALT_BYTES);
  const digest = await derive(password, salt, iterations, PBKDF2_DIGEST_BYTES);
  return `$7$${iterations}$${salt.toString('base64')}$${digest.toString('base64')}`;
}
