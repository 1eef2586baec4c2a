// Small non-cryptographic hashes shared by the pure modules (GrowthBook assignment keeps its own
// copy, pinned by the conformance cases).

const FNV_OFFSET_BASIS = 2166136261;
const FNV_PRIME = 16777619;

/** 32-bit FNV-1a over UTF-16 code units; `state` continues a previous hash. */
export function fnv1a32(text: string, state = FNV_OFFSET_BASIS): number {
  let h = state;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME) >>> 0;
  return h;
}

/**
 * murmur3's 32-bit finaliser: spreads every input bit over the output, so keys that differ only in
 * their last characters ("req-1", "req-2") give unrelated seeds.
 */
export function mix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A well-mixed 32-bit seed for a string key. */
export function seedOfKey(key: string): number {
  return mix32(fnv1a32(key));
}
