// Mosquitto 2.1's `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` entries (the PHC string libargon2
// encodes: base64 without padding). Verified with hash-wasm (WebAssembly, no install script, the same code on ARM
// and x86); the computation runs on the event loop, so Wharf reads these entries but writes `$7$` (README, Security).

import type { PasswordHash } from './password-hash.js';

/** Loaded on the first argon2id login only: 270 KB of JavaScript and WebAssembly most gateways never need. */
let hashWasm: Promise<typeof import('hash-wasm')> | undefined;

/** Bounds on what a file may ask for: a hostile `m=` or `t=` must not make one login take the gateway's memory. */
const MAX_MEMORY_KIB = 256 * 1024;
const MAX_PASSES = 64;
const MAX_LANES = 16;

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** The verifier of an `$argon2id$` hash text, or why it is not one Wharf accepts. */
export function argon2idHash(text: string): PasswordHash | string {
  const m = PHC.exec(text);
  if (m === null) return 'not an $argon2id$v=19$m=..,t=..,p=..$salt$hash string';
  const [memory, passes, lanes] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (memory > MAX_MEMORY_KIB || passes < 1 || passes > MAX_PASSES || lanes < 1 || lanes > MAX_LANES) {
    return `argon2id cost out of range (m <= ${MAX_MEMORY_KIB}, 1 <= t <= ${MAX_PASSES}, 1 <= p <= ${MAX_LANES})`;
  }
  return {
    scheme: 'argon2id',
    // hash-wasm compares the recomputed tag with the stored one itself (argon2Verify).
    verify: async (password) => {
      try {
        hashWasm ??= import('hash-wasm');
        return await (await hashWasm).argon2Verify({ password, hash: text });
      } catch {
        return false;
      }
    },
  };
}
