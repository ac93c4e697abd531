// Mosquitto's `$6$<salt>$<hash>` entries (mosquitto_passwd -H sha512, the default before 2.0): one SHA-512 round
// over the password bytes followed by the salt bytes; salt and hash are base64 with padding.

import { nodeCrypto } from '../../lazy-builtins.js';
import { equalDigests, type PasswordHash } from './password-hash.js';

export function sha512SaltedHash(salt: Buffer, digest: Buffer): PasswordHash {
  return {
    scheme: 'sha512',
    verify: async (password) => equalDigests(nodeCrypto().createHash('sha512').update(password).update(salt).digest(), digest),
  };
}
