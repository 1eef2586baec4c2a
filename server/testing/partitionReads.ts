import { vi } from "vitest";
import type { Db } from "../db/client";
import { Prisma } from "../db/generated/client";

// Which day partitions a service's query reads, for tests that a lookup stays within its bound: the
// service runs as it is, its raw queries recorded, then each recorded query is explained.

/** The SQL of every `$queryRaw` that `db` runs while `run` runs, in call order; each still runs. */
export async function rawQueriesOf(db: Db, run: () => Promise<unknown>): Promise<Prisma.Sql[]> {
  const seen: Prisma.Sql[] = [];
  const original = db.$queryRaw.bind(db) as (query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => Promise<unknown>;
  const spy = vi.spyOn(db, "$queryRaw").mockImplementation(((query: TemplateStringsArray | Prisma.Sql, ...values: unknown[]) => {
    seen.push(query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values));
    return original(query, ...values);
  }) as typeof db.$queryRaw);
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

let prepared = 0;

/**
 * The partitions of `table` (named `<table>_…`, its DEFAULT partition included) that `query` executes,
 * sorted: EXPLAIN ANALYZE, so a partition pruned when planning (absent) or when running (never
 * looped) is not among them. The query runs (read-only queries only).
 * @param options.plan "custom" (default): planned with its parameters' values, as the driver's
 *   unnamed statements are; "generic": as a statement prepared once and run many times may be
 *   (plan_cache_mode = force_generic_plan), where only what prunes at run time prunes.
 */
export async function partitionsRead(db: Db, query: Prisma.Sql, table: string, options: { plan?: "custom" | "generic" } = {}): Promise<string[]> {
  type Explained = Array<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>;
  const [explained] = options.plan !== "generic"
    ? await db.$queryRaw<Explained>`EXPLAIN (ANALYZE, FORMAT JSON) ${query}`
    : await db.$transaction(async (tx) => {
      // PREPARE is not transactional: a name of its own, deallocated once explained.
      const name = `partitions_read_${process.pid}_${++prepared}`;
      await tx.$executeRawUnsafe(`PREPARE ${name} AS ${query.text}`);
      try {
        await tx.$executeRawUnsafe("SET LOCAL plan_cache_mode = force_generic_plan");
        // EXECUTE takes its arguments as expressions, not bind parameters: literals, coerced to the statement's parameter types.
        const args = query.values.map(literal).join(", ");
        return await tx.$queryRawUnsafe<Explained>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${name}${args ? `(${args})` : ""}`);
      } finally {
        await tx.$executeRawUnsafe(`DEALLOCATE ${name}`).catch(() => undefined);
      }
    });
  const read = new Set<string>();
  const walk = (node: PlanNode) => {
    const relation = node["Relation Name"];
    if (typeof relation === "string" && relation.startsWith(`${table}_`) && (node["Actual Loops"] ?? 0) > 0) read.add(relation);
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(explained!["QUERY PLAN"][0]!.Plan);
  return [...read].sort();
}

/** A query parameter's value as an SQL literal (tests' own values: strings, numbers, dates, booleans, null and arrays of them). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (value instanceof Date) return `'${value.toISOString()}'`;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  if (Array.isArray(value)) return value.length ? `ARRAY[${value.map(literal).join(", ")}]` : "'{}'";
  return `'${String(value).replaceAll("'", "''")}'`;
}

interface PlanNode {
  "Relation Name"?: string;
  "Actual Loops"?: number;
  Plans?: PlanNode[];
}
