// What a value costs the V8 heap, estimated, for caches that must stay within a number of bytes
// whatever their entries hold. Figures for 64-bit V8 with pointer compression off (Node's default):
// a string is a 16-byte header plus one byte per character when every character is Latin-1, else
// two; a plain object ~56 bytes plus ~16 per property; an array 32 plus 8 per element; a number in
// a property 16 (a heap number). Estimates err high: a bound computed from them holds.

const TWO_BYTE = /[^\u0000-\u00ff]/;

/** Bytes V8 holds for a string: one-byte (Latin-1) or two-byte representation, plus its header. */
export function stringBytes(s: string): number {
  return 24 + s.length * (TWO_BYTE.test(s) ? 2 : 1);
}

/**
 * Estimated heap bytes of a JSON-like value (strings, numbers, booleans, null, arrays, plain
 * objects, Dates), walked iteratively so deep values cannot overflow the stack. Shared references
 * are counted each time they are met (an over-estimate).
 */
export function heapBytes(value: unknown): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") bytes += stringBytes(v);
    else if (typeof v === "number" || typeof v === "bigint") bytes += 16;
    else if (v === null || v === undefined || typeof v === "boolean") bytes += 8;
    else if (v instanceof Date) bytes += 48;
    else if (ArrayBuffer.isView(v)) bytes += 96 + v.byteLength;
    else if (Array.isArray(v)) {
      bytes += 32 + 8 * v.length;
      for (const item of v) stack.push(item);
    } else if (typeof v === "object") {
      const entries = Object.entries(v as object);
      bytes += 56 + 16 * entries.length;
      for (const [key, item] of entries) {
        bytes += stringBytes(key);
        stack.push(item);
      }
    } else bytes += 64;
  }
  return bytes;
}
