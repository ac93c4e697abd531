// The records of `wharf doctor --crash-test`: record n's topic and payload follow from n, so the check after a
// kill needs nothing but the list of acknowledged numbers. Every fourth payload is larger than inlineMaxBytes
// and goes to the payload store (its own files and fsync), the others stay inline in LMDB.

export const CRASH_TOPIC_PREFIX = 'doctor/crash/';

export function crashPayload(n: number, inlineMaxBytes: number): Buffer {
  const size = n % 4 === 0 ? inlineMaxBytes * 2 + 17 : 200 + (n % 50);
  const b = Buffer.alloc(size, n & 0xff);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}
