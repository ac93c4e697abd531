// mulberry32: a small seeded PRNG, so a failing run (a kill moment, a fuzz input) can be replayed from its seed.

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed to use: from `envVar` when set (to replay a failure), else a fresh one. */
export function seedFrom(envVar: string): number {
  return Number(process.env[envVar] ?? Date.now() % 0x1_0000_0000) >>> 0;
}
