/**
 * Small deterministic PRNG (sfc32, seeded through a 32-bit integer hash). No Math.random: the
 * same seed gives the same numbers on every platform, in workflows as in activities.
 */

/** A seed is any integer or string; both are hashed to 32 bits. */
export type Seed = number | string;

/** murmur3's 32-bit finaliser: a cheap, well-mixing bijection on uint32. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a sequence of uint32 words into one uint32 (order-sensitive). */
export function hashWords(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const word of words) {
    h = mix32((h ^ mix32(word >>> 0)) + 0x6d2b79f5);
  }
  return h;
}

/** FNV-1a over UTF-16 code units, then mixed. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return mix32(h);
}

export function seedToUint32(seed: Seed): number {
  if (typeof seed === 'number' && Number.isSafeInteger(seed)) {
    const low = seed >>> 0;
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    return high === 0 ? low : hashWords(low, high);
  }
  return hashString(`${typeof seed}:${String(seed)}`);
}

export interface Rng {
  /** Uniform uint32. */
  nextUint32(): number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
  /** Uniform element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
}

/** sfc32 seeded from the given words (any number of uint32s). */
export function createRng(...seedWords: number[]): Rng {
  let a = hashWords(0xa0761d65, ...seedWords);
  let b = hashWords(0xe7037ed1, ...seedWords);
  let c = hashWords(0x8ebc6af0, ...seedWords);
  let d = 1;
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Warm up so that nearby seeds diverge.
  for (let i = 0; i < 12; i += 1) nextUint32();
  const next = (): number => nextUint32() / 2 ** 32;
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    nextUint32,
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
  };
}
