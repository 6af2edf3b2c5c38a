// Seeded pseudo-random numbers, so that projections and splits are the same on every run.
// mulberry32 (Tommy Ettinger's 32-bit generator, public domain): a 32-bit state advanced by a
// Weyl sequence step 0x6D2B79F5 and mixed by two multiply-xorshift rounds; output / 2³² in [0, 1).
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a 32-bit hash of a string (Fowler, Noll, Vo): a stable number for a name. */
export function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
