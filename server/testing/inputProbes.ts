import type { z } from "zod";
import type { appRouter } from "../routers/_app";
import { itemsOf } from "../validation";

// Reads zod 4 schemas (their `def` and public accessors) to build, for any input schema, a sample
// value of the right shape (valid where the schema's own checks allow: lengths, bounds, patterns)
// and the list of its leaves: every string, number, date, record key and free-form JSON value,
// with its path. The validation test and the fuzz suite use it on every tRPC procedure's input,
// taken from the router itself, so a procedure added tomorrow is probed without anyone listing it.

export type Path = Array<string | number>;
export type LeafKind = "string" | "number" | "date" | "json" | "key";

export interface Leaf {
  kind: LeafKind;
  /** Where the value sits; for a record key, the record's path. */
  path: Path;
  /** For a record key: the key the sample uses. */
  key?: string;
}

export interface Sample {
  value: unknown;
  leaves: Leaf[];
}

type AnySchema = z.ZodType & {
  _zod: { def: Record<string, unknown> & { type: string } };
  minLength?: number | null;
  maxLength?: number | null;
  minValue?: number | null;
  maxValue?: number | null;
  isInt?: boolean;
  format?: string | null;
};

const STRING_CANDIDATES = ["search", "fuzz-1", "ab", "a1", "a", "1", "abc", "0123456789"];

function sampleString(schema: AnySchema): string {
  if (schema.format === "email") return "fuzz@example.com";
  if (schema.format === "datetime") return new Date().toISOString();
  const min = Math.max(schema.minLength ?? 0, 1);
  const candidates = [...STRING_CANDIDATES, "a".repeat(min), "fuzz reason text"];
  return candidates.find((c) => schema.safeParse(c).success) ?? "a".repeat(min);
}

function sampleNumber(schema: AnySchema): number {
  const min = schema.minValue ?? -Infinity;
  const max = schema.maxValue ?? Infinity;
  const candidates = [1, min, min + 0.5, min + 1, max, 0.5, 0];
  return candidates.find((c) => Number.isFinite(c) && schema.safeParse(c).success) ?? 1;
}

/**
 * A sample of `schema` and its leaves. `choices` picks an option per union (by its position in
 * the walk); unions not listed take their first option. Returns the unions met, for the caller
 * to try the others.
 */
interface Unions {
  count: number;
  sizes: number[];
  paths: Path[];
}

function build(schema: AnySchema, path: Path, leaves: Leaf[], choices: Map<number, number>, unions: Unions): unknown {
  const def = schema._zod.def;
  // A list built by items() (validation.ts): a pipe from z.array(z.unknown()) to the check of each item.
  const item = itemsOf(schema) as AnySchema | undefined;
  if (item) {
    const count = Math.max(1, arrayMin((def.in as AnySchema)._zod.def));
    return Array.from({ length: count }, (_, i) => build(item, [...path, i], i === 0 ? leaves : [], choices, unions));
  }
  switch (def.type) {
    case "string":
      leaves.push({ kind: "string", path });
      return sampleString(schema);
    case "number":
      leaves.push({ kind: "number", path });
      return sampleNumber(schema);
    case "date":
      leaves.push({ kind: "date", path });
      return new Date();
    case "boolean":
      return true;
    case "null":
      return null;
    case "unknown":
    case "any":
      leaves.push({ kind: "json", path });
      return "x";
    case "enum":
      return Object.values(def.entries as Record<string, unknown>)[0];
    case "literal":
      return (def.values as unknown[])[0];
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "nonoptional":
    case "readonly":
    case "catch":
      return build(def.innerType as AnySchema, path, leaves, choices, unions);
    case "pipe": {
      // z.preprocess(fn, schema) is a pipe from a transform: the value must be what `schema` takes.
      const input = def.in as AnySchema;
      return build(input._zod.def.type === "transform" ? (def.out as AnySchema) : input, path, leaves, choices, unions);
    }
    case "lazy":
      return build((def.getter as () => AnySchema)(), path, leaves, choices, unions);
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(def.shape as Record<string, AnySchema>)) out[key] = build(field, [...path, key], leaves, choices, unions);
      const catchall = def.catchall as AnySchema | undefined;
      if (catchall && catchall._zod.def.type !== "never") out.extraField = build(catchall, [...path, "extraField"], leaves, choices, unions);
      return out;
    }
    case "record": {
      const key = build(def.keyType as AnySchema, [...path, "(key)"], [], choices, unions) as string;
      leaves.push({ kind: "key", path, key });
      return { [key]: build(def.valueType as AnySchema, [...path, key], leaves, choices, unions) };
    }
    case "array": {
      const count = Math.max(1, arrayMin(def));
      const element = def.element as AnySchema;
      return Array.from({ length: count }, (_, i) => build(element, [...path, i], i === 0 ? leaves : [], choices, unions));
    }
    case "union": {
      const id = unions.count++;
      const options = def.options as AnySchema[];
      unions.sizes[id] = options.length;
      unions.paths[id] = path;
      return build(options[choices.get(id) ?? 0]!, path, leaves, choices, unions);
    }
    case "intersection":
      return { ...(build(def.left as AnySchema, path, leaves, choices, unions) as object), ...(build(def.right as AnySchema, path, [], choices, unions) as object) };
    default:
      throw new Error(`inputProbes: no sample for a zod "${def.type}" at ${path.join(".") || "input"}`);
  }
}

function arrayMin(def: Record<string, unknown>): number {
  const checks = (def.checks ?? []) as Array<{ _zod: { def: { check: string; minimum?: number } } }>;
  return checks.find((c) => c._zod.def.check === "min_length")?._zod.def.minimum ?? 1;
}

/**
 * Samples of `schema`: one with every union's first option (and all its leaves), then one per other
 * option of each union, listing only the leaves under that union (the rest are the first sample's).
 */
export function samplesOf(schema: z.ZodType): Sample[] {
  const first: Unions = { count: 0, sizes: [], paths: [] };
  const leaves: Leaf[] = [];
  const samples: Sample[] = [{ value: build(schema as AnySchema, [], leaves, new Map(), first), leaves }];
  first.sizes.forEach((size, id) => {
    for (let option = 1; option < size; option++) {
      const more: Leaf[] = [];
      const value = build(schema as AnySchema, [], more, new Map([[id, option]]), { count: 0, sizes: [], paths: [] });
      samples.push({ value, leaves: more.filter((leaf) => isUnder(leaf.path, first.paths[id]!)) });
    }
  });
  return samples;
}

/** A deep copy of `value` with `replacement` at `path` (or, for a record key leaf, the key renamed). */
export function withLeaf(value: unknown, leaf: Leaf, replacement: unknown): unknown {
  return withLeaves(value, [[leaf, replacement]]);
}

/**
 * A deep copy of `value` with each replacement made in turn. One copy of the original only: a
 * replacement may be deeper than structuredClone can walk (JSON nested 3,000 levels), so it is
 * never copied again.
 */
export function withLeaves(value: unknown, replacements: ReadonlyArray<readonly [Leaf, unknown]>): unknown {
  let copy = structuredClone(value);
  for (const [leaf, replacement] of replacements) {
    if (leaf.kind === "key") {
      const record = getAt(copy, leaf.path) as Record<string, unknown> | undefined;
      if (typeof record !== "object" || record === null || !(leaf.key! in record)) continue; // an earlier change moved it
      const inner = record[leaf.key!];
      delete record[leaf.key!];
      // An own field even for "__proto__" (as JSON.parse makes it): assignment would set the prototype.
      Object.defineProperty(record, String(replacement), { value: inner, enumerable: true, writable: true, configurable: true });
      continue;
    }
    if (leaf.path.length === 0) {
      copy = replacement;
      continue;
    }
    const parent = getAt(copy, leaf.path.slice(0, -1)) as Record<string | number, unknown> | undefined;
    if (typeof parent !== "object" || parent === null) continue; // an earlier change replaced what held it
    parent[leaf.path.at(-1)!] = replacement;
  }
  return copy;
}

function getAt(value: unknown, path: Path): unknown {
  return path.reduce<unknown>((node, key) => (typeof node === "object" && node !== null ? (node as Record<string | number, unknown>)[key] : undefined), value);
}

/** Does a zod issue path lie at or under `path`? */
export const isUnder = (issuePath: ReadonlyArray<PropertyKey>, path: Path) => path.every((part, i) => issuePath[i] === part);

/** Every procedure of the router with its input schema (null when it takes none), by dotted path. */
export function procedureInputs(router: typeof appRouter): Array<{ path: string; type: string; input: z.ZodType | null }> {
  type Def = { _def: { type: string; inputs: z.ZodType[] } };
  return Object.entries(router._def.procedures as unknown as Record<string, Def>).map(([path, p]) => {
    if (p._def.inputs.length > 1) throw new Error(`inputProbes: ${path} chains ${p._def.inputs.length} inputs; merge them into one schema`);
    return { path, type: p._def.type, input: p._def.inputs[0] ?? null };
  });
}

/** A JSON value nested `depth` levels: {"a":{"a":…}}. */
export function deepJson(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}
